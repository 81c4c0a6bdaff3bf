package server

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BatchesConfig is the batches: section: BatchService, which runs one method for many inputs
// in the background, kept in the store (see docs/batches.md). The section turns it on.
type BatchesConfig struct {
	// Enabled serves BatchService; default true once the section is there.
	Enabled *bool `yaml:"enabled"`
	// MaxItems refuses a batch with more items, up front. Default 100000.
	MaxItems int `yaml:"max_items"`
	// MaxUploadBytes bounds an NDJSON or CSV upload to POST /v1/batches. Default 256 MiB.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// Concurrency is how many items of all batches run at once against one backend. Default
	// 4. It is further bounded by the backend's own concurrency and rate, less the
	// interactive share.
	Concurrency int `yaml:"concurrency"`
	// BackendConcurrency sets Concurrency per backend name.
	BackendConcurrency map[string]int `yaml:"backend_concurrency"`
	// InteractiveShare is the part of a backend's concurrency cap and rate limit that batches
	// leave to interactive calls, 0 to 0.9. Default 0.25.
	InteractiveShare *float64 `yaml:"interactive_share"`
	// ItemTimeout bounds one item's call. Default 1m.
	ItemTimeout time.Duration `yaml:"item_timeout"`
	// Retention is how long a finished batch and its results are kept. Default 168h (7 days).
	Retention time.Duration `yaml:"retention"`
	// Leases makes a replica run a job only while it holds the job's lease in the shared
	// store, renewed every lease/3, and take over a job whose lease ran out (its replica died).
	// Default: on with store engine redis (replicas share the jobs), off otherwise (one
	// process owns an embedded store file, so a job found running after a restart is its own).
	Leases *bool `yaml:"leases"`
	// Lease is how long a job's lease lasts without renewal: after a replica dies, another
	// takes its jobs over within lease + scan_interval. Default 30s.
	Lease time.Duration `yaml:"lease"`
	// ScanInterval is how often a replica looks for running jobs without a live lease (or,
	// without leases, jobs whose run stopped short, their results not written).
	// Default 5s.
	ScanInterval time.Duration `yaml:"scan_interval"`
	// Methods holds per-method settings, by full method name (package.Service/Method or
	// /package.Service/Method).
	Methods map[string]BatchMethodConfig `yaml:"methods"`
}

// BatchMethodConfig is one method's batch settings.
type BatchMethodConfig struct {
	// IdempotencyField names a string request field (by proto or JSON name) the backend
	// de-duplicates on. Each item without a value of its own gets one derived from the batch
	// id and the item's index, the same on every run of the item, so an item that was in
	// flight when the bridge died runs again safely instead of being reported as outcome
	// unknown.
	IdempotencyField string `yaml:"idempotency_field"`
}

// Defaults of BatchesConfig.
const (
	DefaultBatchMaxItems         = 100000
	DefaultBatchMaxUploadBytes   = 256 << 20
	DefaultBatchConcurrency      = 4
	DefaultBatchInteractiveShare = 0.25
	DefaultBatchItemTimeout      = time.Minute
	DefaultBatchRetention        = 7 * 24 * time.Hour
	DefaultBatchLease            = 30 * time.Second
	DefaultBatchScanInterval     = 5 * time.Second
)

// enabled reports whether the config serves BatchService.
func (b *BatchesConfig) enabled() bool {
	return b != nil && (b.Enabled == nil || *b.Enabled)
}

func (b BatchesConfig) withDefaults() BatchesConfig {
	if b.MaxItems <= 0 {
		b.MaxItems = DefaultBatchMaxItems
	}
	if b.MaxUploadBytes <= 0 {
		b.MaxUploadBytes = DefaultBatchMaxUploadBytes
	}
	if b.Concurrency <= 0 {
		b.Concurrency = DefaultBatchConcurrency
	}
	if b.InteractiveShare == nil {
		share := DefaultBatchInteractiveShare
		b.InteractiveShare = &share
	}
	if b.ItemTimeout <= 0 {
		b.ItemTimeout = DefaultBatchItemTimeout
	}
	if b.Retention <= 0 {
		b.Retention = DefaultBatchRetention
	}
	if b.Lease <= 0 {
		b.Lease = DefaultBatchLease
	}
	if b.ScanInterval <= 0 {
		b.ScanInterval = DefaultBatchScanInterval
	}
	methods := make(map[string]BatchMethodConfig, len(b.Methods))
	for name, mc := range b.Methods {
		methods[normalizeProcedure(name)] = mc
	}
	b.Methods = methods
	return b
}

// check reports what is wrong with the section.
func (b *BatchesConfig) check() error {
	if b == nil {
		return nil
	}
	var errs []error
	if b.MaxItems < 0 || b.MaxUploadBytes < 0 || b.Concurrency < 0 || b.ItemTimeout < 0 || b.Retention < 0 || b.Lease < 0 || b.ScanInterval < 0 {
		errs = append(errs, errors.New("config: batches: max_items, max_upload_bytes, concurrency, item_timeout, retention, lease and scan_interval must not be negative"))
	}
	if s := b.InteractiveShare; s != nil && (*s < 0 || *s > 0.9) {
		errs = append(errs, fmt.Errorf("config: batches: interactive_share %g: use 0 to 0.9", *s))
	}
	for name, n := range b.BackendConcurrency {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("config: batches: backend_concurrency %s: %d must be at least 1", name, n))
		}
	}
	for name, mc := range b.Methods {
		if !strings.Contains(strings.TrimPrefix(name, "/"), "/") {
			errs = append(errs, fmt.Errorf("config: batches: methods: %q: name a method as package.Service/Method", name))
		}
		if mc.IdempotencyField == "" {
			errs = append(errs, fmt.Errorf("config: batches: methods: %s: idempotency_field is empty", name))
		}
	}
	return errors.Join(errs...)
}

// normalizeProcedure writes package.Service/Method, or package.Service.Method, as
// /package.Service/Method.
func normalizeProcedure(name string) string {
	name = strings.TrimSpace(name)
	if !strings.HasPrefix(name, "/") {
		if !strings.Contains(name, "/") {
			if i := strings.LastIndex(name, "."); i > 0 {
				name = name[:i] + "/" + name[i+1:]
			}
		}
		name = "/" + name
	}
	return name
}
