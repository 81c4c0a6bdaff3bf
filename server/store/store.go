// Package store keeps what must outlive the process: event logs (webhooks taken in, read by
// subscribers from a cursor) and tables (batch jobs, their items and results). Embedded by
// default (a file on local disk); Redis for several replicas (package adapters/redisstore).
// Every implementation passes the suite in package storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get for a key the table does not hold.
var ErrNotFound = errors.New("store: not found")

// ErrCursor is returned (wrapped) by Read and Ack for a cursor this store never handed out.
var ErrCursor = errors.New("store: malformed cursor")

// Store is a log and a table store in one engine, so a batch job and the events it causes
// share durability. Close releases the engine; calls after Close fail.
type Store interface {
	Log
	Cursors
	Table
	Close() error
}

// Record is what a producer appends to a log.
type Record struct {
	// Key de-duplicates: a record whose key the topic already holds (within retention) is not
	// stored again. "" never de-duplicates.
	Key string
	// Data is stored as given.
	Data []byte
}

// Entry is a record as stored.
type Entry struct {
	// Cursor is the entry's position in its topic: opaque, and only meaningful to the store
	// that handed it out. Entries after it in the topic come after it in Read.
	Cursor string
	// Key is the record's key.
	Key string
	// Time is when the entry was stored.
	Time time.Time
	// Data is the record's data.
	Data []byte
}

// Appended says where Append put one record.
type Appended struct {
	// Cursor is the entry's position; for a duplicate, the position of the entry stored first.
	Cursor string
	// Duplicate is true when the topic already held the record's key; nothing was stored.
	Duplicate bool
}

// Log is an append-only sequence of entries per topic, trimmed by the store's Retention.
type Log interface {
	// Append stores recs in order and returns only once they are durable (fsynced, or
	// acknowledged by the engine), with one Appended per record. Keys repeated within recs are
	// duplicates of their first occurrence.
	Append(ctx context.Context, topic string, recs ...Record) ([]Appended, error)
	// Read returns up to limit entries of topic after cursor after, in order; after "" reads
	// from the oldest entry retained. When there are none it waits up to wait (or until ctx
	// ends) for the first and returns what arrived, possibly nothing, with a nil error.
	Read(ctx context.Context, topic, after string, limit int, wait time.Duration) ([]Entry, error)
}

// Tailer is what a Log may offer besides: the end of a topic without reading it. A reader that
// wants only what arrives from now on (an MCP watcher) starts after Last; a store without it
// makes such a reader scan the whole retained log.
type Tailer interface {
	// Last returns the cursor of topic's newest entry, or "" when the topic holds none; Read
	// after it returns only entries appended later.
	Last(ctx context.Context, topic string) (string, error)
}

// Cursors remember, per topic and subscriber group, how far the group has acknowledged.
type Cursors interface {
	// Ack records that group has handled topic's entries up to and including cursor. A cursor
	// before the one recorded changes nothing: acknowledgements never move back. A cursor after
	// the topic's last entry (one of another topic, say) is ErrCursor: acknowledging it would
	// skip entries not yet written.
	Ack(ctx context.Context, topic, group, cursor string) error
	// Acked returns the cursor group acknowledged last in topic, or "" if none.
	Acked(ctx context.Context, topic, group string) (string, error)
}

// KV is one key and value of a table.
type KV struct {
	Key   string
	Value []byte
}

// Table is an ordered key-value map per table name, ordered by key bytes.
type Table interface {
	// Put stores kvs in table atomically and durably (all or none).
	Put(ctx context.Context, table string, kvs ...KV) error
	// Get returns the value of key in table, or ErrNotFound.
	Get(ctx context.Context, table, key string) ([]byte, error)
	// Scan returns up to limit pairs of table with from <= key < to ("" to: no upper bound),
	// in key order.
	Scan(ctx context.Context, table, from, to string, limit int) ([]KV, error)
	// Delete removes keys from table; missing keys are no error. With no keys it removes the
	// whole table.
	Delete(ctx context.Context, table string, keys ...string) error
}

// Retention bounds what a log keeps: an entry is removed once it is older than MaxAge, or once
// its topic holds more than MaxEntries newer entries or more than MaxBytes of newer data. Zero
// fields do not bound. Removed entries are no longer read; their keys may stop
// de-duplicating with them (embedded) or after MaxAge (Redis).
type Retention struct {
	MaxAge     time.Duration `yaml:"max_age"`
	MaxEntries int64         `yaml:"max_entries"`
	MaxBytes   int64         `yaml:"max_bytes"`
}
