package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

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
	if sc.engine() == StoreRedis && r.MaxBytes > 0 {
		errs = append(errs, errors.New("config: store: retention.max_bytes is not supported by the redis engine (bound Redis's memory with its maxmemory, or use max_entries)"))
	}
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
	return len(c.Events.Sources) > 0 || c.Batches.enabled()
}

// openStore opens the store the config describes, or returns nil when nothing needs one. shared
// is the redis: section's store, when there is one.
//
// With checkOnly (config validate), the embedded engine's file is checked but not opened, since
// a running bridge holds it locked: its directory must exist or be creatable and writable, and
// the file, if there, must be a regular file; a memory store stands in for it.
func (c *Config) openStore(shared store.Store, checkOnly bool) (store.Store, error) {
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
	if checkOnly {
		if err := checkStorePath(c.storePath()); err != nil {
			return nil, fmt.Errorf("config: store: %w", err)
		}
		return store.NewMemory(c.Store.Retention), nil
	}
	st, err := store.OpenBolt(c.storePath(), c.Store.Retention)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return st, nil
}

// WithStore keeps events and batch jobs in st; the server does not close it.
func WithStore(st store.Store) Option {
	return func(o *options) { o.durable, o.ownDurable = st, false }
}

// withOwnedStore is WithStore for a store Config.Build opened: Close closes it.
func withOwnedStore(st store.Store) Option {
	return func(o *options) { o.durable, o.ownDurable = st, true }
}

// checkStorePath reports whether the embedded store could be opened at path, without opening or
// creating anything.
func checkStorePath(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a file", path)
		}
		if err := syscall.Access(path, 0o6); err != nil { // read and write
			return fmt.Errorf("%s cannot be read and written: %w", path, err)
		}
		return nil
	}
	// The file will be created, with the directories missing: the nearest existing one must be
	// a directory this process can write.
	dir := filepath.Dir(path)
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			if err := syscall.Access(dir, 0o2|0o1); err != nil { // write and search
				return fmt.Errorf("the store's file cannot be created in %s: %w", dir, err)
			}
			return nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no directory of %s exists", path)
		}
		dir = parent
	}
}

// CheckOnly builds what serve would but takes no resource a running bridge holds: the embedded
// store's file is checked, not opened (see Config.Build). config validate uses it, so a config
// can be checked while the bridge it configures runs.
func CheckOnly() Option { return func(o *options) { o.checkOnly = true } }
