package server

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/agentbridge/agentbridge/server/store"
)

// StoreConfig is the store: section: where events and batch jobs are kept durably (see
// docs/storage.md). The store is opened only when the config has something to keep in it.
type StoreConfig struct {
	// Engine is memory (lost on exit; for tests and trials), embedded (a file on local disk;
	// the default) or redis (the redis: section's server, for several replicas).
	Engine string `yaml:"engine"`
	// Path is the embedded engine's file, relative to the config file. Default
	// agentbridge-data/agentbridge.db.
	Path string `yaml:"path"`
	// Retention bounds what each event log keeps.
	Retention store.Retention `yaml:"retention"`
}

// Engines of StoreConfig.
const (
	StoreMemory   = "memory"
	StoreEmbedded = "embedded"
	StoreRedis    = "redis"
)

// DefaultStorePath is the embedded engine's file, relative to the config file.
const DefaultStorePath = "agentbridge-data/agentbridge.db"

func (sc StoreConfig) engine() string {
	if sc.Engine == "" {
		return StoreEmbedded
	}
	return sc.Engine
}

// check reports what is wrong with the section without opening anything.
func (sc StoreConfig) check(hasRedis bool) error {
	var errs []error
	switch sc.engine() {
	case StoreMemory, StoreEmbedded:
	case StoreRedis:
		if !hasRedis {
			errs = append(errs, errors.New("config: store: engine redis needs a redis: section (the server to keep events and jobs in)"))
		}
	default:
		errs = append(errs, fmt.Errorf("config: store: engine %q: use embedded, redis or memory", sc.Engine))
	}
	if sc.Path != "" && sc.engine() != StoreEmbedded {
		errs = append(errs, fmt.Errorf("config: store: path is for the embedded engine, not %s", sc.engine()))
	}
	r := sc.Retention
	if r.MaxAge < 0 || r.MaxEntries < 0 || r.MaxBytes < 0 {
		errs = append(errs, errors.New("config: store: retention bounds must not be negative"))
	}
	return errors.Join(errs...)
}

// path is the embedded engine's file.
func (c *Config) storePath() string {
	p := c.Store.Path
	if p == "" {
		p = DefaultStorePath
	}
	if !filepath.IsAbs(p) && c.dir != "" {
		p = filepath.Join(c.dir, p)
	}
	return p
}

// needsStore says whether anything in the config keeps state in the store.
func (c *Config) needsStore() bool {
	return len(c.Events.Sources) > 0
}

// openStore opens the store the config describes, or returns nil when nothing needs one. shared
// is the redis: section's store, when there is one.
func (c *Config) openStore(shared store.Store) (store.Store, error) {
	if !c.needsStore() {
		return nil, nil
	}
	switch c.Store.engine() {
	case StoreMemory:
		return store.NewMemory(c.Store.Retention), nil
	case StoreRedis:
		if shared == nil {
			return nil, errors.New("config: store: engine redis needs a redis: section")
		}
		return shared, nil
	}
	return store.OpenBolt(c.storePath(), c.Store.Retention)
}

// WithStore keeps events and batch jobs in st; the server does not close it.
func WithStore(st store.Store) Option {
	return func(o *options) { o.durable, o.ownDurable = st, false }
}

// withOwnedStore is WithStore for a store Config.Build opened: Close closes it.
func withOwnedStore(st store.Store) Option {
	return func(o *options) { o.durable, o.ownDurable = st, true }
}
