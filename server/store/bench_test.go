package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	"github.com/agentbridge/agentbridge/server/store"
)

// engines opens each engine for a benchmark: memory, bolt (a file in b.TempDir(), fsynced)
// and redis (a redis-server the benchmark starts, on a unix socket, without persistence).
func engines(b *testing.B) []struct {
	name string
	open func(b *testing.B) store.Store
} {
	return []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"memory", func(b *testing.B) store.Store { return store.NewMemory(store.Retention{}) }},
		{"bolt", func(b *testing.B) store.Store {
			st, err := store.OpenBolt(filepath.Join(b.TempDir(), "bench.db"), store.Retention{})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
		{"redis", func(b *testing.B) store.Store {
			r := redistest.Start(b)
			st, err := redisstore.Open(redisstore.Config{Address: r.Socket, Timeout: 5 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
	}
}

func kib() []byte {
	data := make([]byte, 1024)
	_, _ = rand.Read(data)
	return data
}

// BenchmarkAppend measures events per second in: Appends of one 1 KiB record with a unique
// key, by 1 and by 16 concurrent appenders, for each engine in the same run.
//
//	go test ./server/store -run '^$' -bench 'BenchmarkAppend|BenchmarkRead' -benchtime 2s
func BenchmarkAppend(b *testing.B) {
	data := kib()
	for _, e := range engines(b) {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/appenders=%d", e.name, writers), func(b *testing.B) {
				st := e.open(b)
				defer st.Close()
				ctx := context.Background()
				var next atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				b.SetBytes(int64(len(data)))
				b.ResetTimer()
				start := time.Now()
				for range writers {
					wg.Go(func() {
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							if _, err := st.Append(ctx, "bench", store.Record{Key: fmt.Sprintf("evt-%d", i), Data: data}); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkRead measures events per second out: Reads of pages of 100 entries (1 KiB each)
// from a topic of 10,000, each after the previous page's last cursor.
func BenchmarkRead(b *testing.B) {
	data := kib()
	const size, page = 10000, 100
	for _, e := range engines(b) {
		b.Run(e.name, func(b *testing.B) {
			st := e.open(b)
			defer st.Close()
			ctx := context.Background()
			for i := 0; i < size; i += 500 {
				recs := make([]store.Record, 500)
				for j := range recs {
					recs[j] = store.Record{Key: fmt.Sprintf("evt-%d", i+j), Data: data}
				}
				if _, err := st.Append(ctx, "bench", recs...); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(page * int64(len(data)))
			b.ResetTimer()
			start := time.Now()
			after := ""
			for range b.N {
				got, err := st.Read(ctx, "bench", after, page, 0)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) < page {
					after = "" // the end: from the start again
					if len(got) == 0 {
						continue
					}
				} else {
					after = got[len(got)-1].Cursor
				}
			}
			b.ReportMetric(float64(b.N*page)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkRetainMillion appends 1,000,000 events of 1 KiB (Appends of 1,000) to a bolt store
// that retains them all, and reports the Go heap in use after a GC at 100,000 and at
// 1,000,000 entries: the log is in the file (mapped, not in the heap), so the heap stays flat.
// It needs about 1.3 GB of disk in $TMPDIR.
//
//	go test ./server/store -run '^$' -bench BenchmarkRetainMillion -benchtime 1x
func BenchmarkRetainMillion(b *testing.B) {
	data := kib()
	const total, batch = 1_000_000, 1000
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "million.db")
		st, err := store.OpenBolt(path, store.Retention{})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		heap := func() float64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return float64(m.HeapInuse) / (1 << 20)
		}
		var at100k float64
		start := time.Now()
		recs := make([]store.Record, batch)
		for i := 0; i < total; i += batch {
			for j := range recs {
				recs[j] = store.Record{Key: fmt.Sprintf("evt-%d", i+j), Data: data}
			}
			if _, err := st.Append(ctx, "million", recs...); err != nil {
				b.Fatal(err)
			}
			if i+batch == 100_000 {
				at100k = heap()
			}
		}
		elapsed := time.Since(start)
		at1m := heap()
		got, err := st.Read(ctx, "million", store.FormatSeq(total-1), 10, 0)
		if err != nil || len(got) != 1 || got[0].Key != fmt.Sprintf("evt-%d", total-1) {
			b.Fatalf("the last entry: %v, %v", got, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(at100k, "heapMB@100k")
		b.ReportMetric(at1m, "heapMB@1M")
		b.ReportMetric(float64(fi.Size())/(1<<20), "fileMB")
		b.ReportMetric(total/elapsed.Seconds(), "events/s")
		if at1m > at100k+64 {
			b.Errorf("the heap grew from %.1f MB at 100k entries to %.1f MB at 1M", at100k, at1m)
		}
	}
}
