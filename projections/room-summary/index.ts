export { roomSummaryProjector } from './room-summary.projector';
export { getRoomSummary, listRoomSummaries, getEventTypeCounts, type RoomSummary } from './room-summary.queries';
