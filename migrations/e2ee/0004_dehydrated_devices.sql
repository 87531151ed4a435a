-- Dehydrated devices (MSC3814): at most one per user, a device without an access token whose
-- encrypted state (`device_data`, opaque to the server) a new login of the user may take
-- over; it receives to-device messages like any device.
CREATE TABLE e2ee.dehydrated_devices (
  user_id      text PRIMARY KEY,
  device_id    text NOT NULL,
  device_data  text NOT NULL,
  created_ts   bigint NOT NULL
);
