-- The trusted devices of an account: their ids (hex), oldest first, space-separated, at most
-- account.MaxDevices. A device cookie counts only while its id is here.
ALTER TABLE accounts ADD COLUMN devices TEXT NOT NULL DEFAULT '';
