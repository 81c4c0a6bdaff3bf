package adapters

import (
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// SkippedReplyElements counts the reply elements that adapters skipped, by backend: those a
// lenient backend sent that the contract does not know (Backend.Lenient), and what any backend
// sent in reply to a one-way operation, which has no output to hold it. It is process-wide: each server registers it in its registry.
var SkippedReplyElements = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "agentbridge_backend_reply_skipped_elements_total",
	Help: "Reply elements the contract cannot hold that an adapter skipped (a lenient backend's unknown elements, a one-way operation's reply content), by backend.",
}, []string{"backend"})

// maxLoggedSkips bounds the distinct paths a SkipLog remembers, so a backend that sends ever
// new element names cannot grow it without end; later new paths are counted, not logged.
const maxLoggedSkips = 1024

// SkipLog reports the reply elements a lenient backend's adapter skips: each is counted in
// SkippedReplyElements, and each distinct path is logged once, at warning level, so an
// operator learns what the contract is missing without a log line per call.
type SkipLog struct {
	backend string
	log     *slog.Logger
	count   prometheus.Counter
	mu      sync.Mutex
	seen    map[string]struct{}
}

// NewSkipLog returns the skip log of a backend, writing to log (nil: slog.Default() at the
// time of each line).
func NewSkipLog(backend string, log *slog.Logger) *SkipLog {
	return &SkipLog{backend: backend, log: log, count: SkippedReplyElements.WithLabelValues(backend), seen: map[string]struct{}{}}
}

// Skipped records one skipped element at path (from the response element down, such as
// GetItemResponse/item/addedInV2).
func (l *SkipLog) Skipped(path string) {
	l.count.Inc()
	l.mu.Lock()
	_, seen := l.seen[path]
	full := len(l.seen) >= maxLoggedSkips
	if !seen && !full {
		l.seen[path] = struct{}{}
	}
	l.mu.Unlock()
	if !seen && !full {
		log := l.log
		if log == nil {
			log = slog.Default()
		}
		log.Warn("skipped a reply element the contract does not hold; add it to the proto to keep it",
			"backend", l.backend, "path", path)
	}
}

// SkippedCount is the number of skips counted for a backend in SkippedReplyElements.
func SkippedCount(backend string) float64 {
	var m dto.Metric
	if err := SkippedReplyElements.WithLabelValues(backend).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
