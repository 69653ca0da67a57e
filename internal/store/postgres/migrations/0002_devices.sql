-- The trusted devices of an account: their ids (hex), oldest first, space-separated, at most
-- account.MaxDevices. A device cookie counts only while its id is here. A column of the account
-- row, so moves copy it with the account.
ALTER TABLE accounts ADD COLUMN devices text NOT NULL DEFAULT '';
