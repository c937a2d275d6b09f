-- Settings an administrator changed on the running host (`kmsedge host
-- HOST VERB`, the dashboard's Settings view), as `slmgr` keeps its changes
-- on a Windows host. A row here overrides the start-up configuration
-- (flags, kmsedge.toml, the Worker's [vars]) until it is changed again;
-- a setting without a row keeps its start-up value.
CREATE TABLE IF NOT EXISTS settings (
    name     TEXT PRIMARY KEY,     -- port, dns_publishing, priority, activation_interval, renewal_interval, host_keys
    value    TEXT NOT NULL,        -- as the setting's parser reads it
    changed  INTEGER NOT NULL      -- Unix seconds (UTC)
);
