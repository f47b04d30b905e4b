-- POST /rooms/{roomId}/forget (client-server API "Leaving rooms"): a forgotten room is left out
-- of /sync and its history is no longer readable by that user. Any later membership change of
-- the user in the room clears the flag.
ALTER TABLE local_memberships ADD COLUMN forgotten BOOLEAN NOT NULL DEFAULT FALSE;
