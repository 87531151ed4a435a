-- Projection runner bookkeeping. A projector's tables live in a schema per generation,
-- proj_<name>_<generation>; the schema proj_<name> holds one view per table pointing at the
-- active generation, so queries read proj_<name>.<table> without any lookup. A rebuild fills
-- a new generation beside the live one and swaps the views and the active generation in one
-- transaction.
CREATE SCHEMA IF NOT EXISTS projections;

CREATE TABLE projections.projection_generations (
  name text PRIMARY KEY,
  active_generation int NOT NULL,
  -- Highest generation number handed out so far (the one being built may be above active).
  last_generation int NOT NULL
);

CREATE TABLE projections.checkpoints (
  name text NOT NULL,
  generation int NOT NULL,
  version int NOT NULL,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, generation)
);
