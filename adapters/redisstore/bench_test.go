package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
)

// BenchmarkTake measures one rate check in Redis (a GCRA script over a unix socket) against
// the in-memory limiter, in the same run.
//
//	go test ./adapters/redisstore -run '^$' -bench BenchmarkTake -benchmem -count 6
func BenchmarkTake(b *testing.B) {
	r := redistest.Start(b)
	store, err := redisstore.Open(redisstore.Config{Address: r.Socket, Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	rate := adapters.Rate{PerSecond: 1e9, Burst: 1 << 30}
	for _, c := range []struct {
		name string
		l    adapters.Limiter
	}{{"memory", adapters.NewMemoryLimiter(nil)}, {"redis", store}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := c.l.Take(ctx, "bench", rate); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
