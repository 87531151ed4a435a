/**
 * Facts of the content repository, one stream per media item (`media-<serverName>/<mediaId>`,
 * {@link mediaStream}): a media id reserved for a later upload (`POST /media/v1/create`), the
 * content uploaded (its bytes live in the media store under their SHA-256), a remote item
 * fetched over federation and cached, quarantined, deleted. The media metadata read model
 * (`projections/media`) is built from them.
 */

export const MEDIA_CREATED = 'MediaCreated';
export const MEDIA_UPLOADED = 'MediaUploaded';
export const MEDIA_QUARANTINED = 'MediaQuarantined';
export const MEDIA_DELETED = 'MediaDeleted';

export const MEDIA_EVENT_TYPES = [MEDIA_CREATED, MEDIA_UPLOADED, MEDIA_QUARANTINED, MEDIA_DELETED] as const;

/** A media id reserved by a user, to be uploaded before `unused_expires_at`. */
export interface MediaCreatedV1 {
  v: 1;
  server_name: string;
  media_id: string;
  user_id: string;
  /** Milliseconds since the epoch. */
  ts: number;
  unused_expires_at: number;
}

/** The content of a media item: stored (local upload) or fetched from its server and cached (remote). */
export interface MediaUploadedV1 {
  v: 1;
  server_name: string;
  media_id: string;
  /** The uploader (local media); absent for remote media. */
  user_id?: string;
  content_type: string;
  /** The file name the uploader gave, if any. */
  upload_name?: string;
  size: number;
  /** Hex SHA-256 of the content: its key in the media store. */
  sha256: string;
  ts: number;
}

/** An admin's action on a media item (quarantine, deletion). */
export interface MediaAdminActionV1 {
  v: 1;
  server_name: string;
  media_id: string;
  /** The admin who acted. */
  by: string;
  ts: number;
}

export type MediaQuarantinedV1 = MediaAdminActionV1;
export type MediaDeletedV1 = MediaAdminActionV1;

export type MediaCreated = MediaCreatedV1;
export type MediaUploaded = MediaUploadedV1;
export type MediaQuarantined = MediaQuarantinedV1;
export type MediaDeleted = MediaDeletedV1;
