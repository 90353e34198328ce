package config

import (
	"fmt"
	"regexp"
	"time"
)

// WALConfig is the continuous WAL archive: a streamer (opsdeck wal stream,
// or opsdeck serve when Stream is set) keeps a physical replication slot
// on the server and stores every segment in the backup store.
type WALConfig struct {
	// Stream makes `opsdeck serve` run the streamer.
	Stream bool `yaml:"stream" json:"stream"`
	// Slot is the physical replication slot's name (default "opsdeck"),
	// created when missing.
	Slot string `yaml:"slot" json:"slot"`
	// FlushInterval is how often the segment being written is made
	// durable in the store: the most WAL a lost bastion can cost. Zero
	// means 1s on a local store and 10s on S3.
	FlushInterval time.Duration `yaml:"flush_interval" json:"flush_interval"`
	// DSN is the replication connection's URL when it differs from
	// postgres.dsn (a role with REPLICATION); empty means postgres.dsn.
	DSN string `yaml:"dsn" json:"dsn"`
}

// DefaultWAL is the streamer's default: off, slot "opsdeck".
func DefaultWAL() WALConfig { return WALConfig{Slot: "opsdeck"} }

// Flush returns the flush interval for a store: FlushInterval, else 1s
// locally and 10s on S3.
func (w WALConfig) Flush(s3 bool) time.Duration {
	switch {
	case w.FlushInterval > 0:
		return w.FlushInterval
	case s3:
		return 10 * time.Second
	}
	return time.Second
}

// RetentionPolicy keeps sets by count and age.
type RetentionPolicy struct {
	// Base keeps base backups (and the WAL from the oldest kept one on).
	Base BaseRetention `yaml:"base" json:"base"`
}

// BaseRetention keeps at least Count base backups and every one younger
// than Days; the newest verified one is kept whatever they say.
type BaseRetention struct {
	Count int `yaml:"count" json:"count"` // default 2
	Days  int `yaml:"days" json:"days"`   // default 14
}

// slotName is what PostgreSQL accepts as a replication slot's name.
var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

func (c *Config) validateWAL(one func(path, reason, hint string, err error)) {
	w := c.Postgres.WAL
	if !slotName.MatchString(w.Slot) {
		one("postgres.wal.slot", fmt.Sprintf("%q is not a replication slot name", w.Slot), "use lower-case letters, digits and underscores, e.g. opsdeck", nil)
	}
	if w.FlushInterval < 0 || w.FlushInterval > time.Hour {
		one("postgres.wal.flush_interval", fmt.Sprintf("%v is not an interval between 0 and 1h", w.FlushInterval), `use e.g. "1s"; 0 means 1s locally and 10s on S3`, nil)
	}
	r := c.Backup.RetentionBy.Base
	if r.Count < 1 {
		one("backup.retention.base.count", fmt.Sprintf("%d is not a count >= 1", r.Count), "use e.g. 2; the newest verified base backup is always kept anyway", nil)
	}
	if r.Days < 1 {
		one("backup.retention.base.days", fmt.Sprintf("%d is not a number of days >= 1", r.Days), "use e.g. 14", nil)
	}
}
