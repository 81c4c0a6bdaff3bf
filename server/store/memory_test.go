package store_test

import (
	"testing"

	"github.com/agentbridge/agentbridge/server/store"
	"github.com/agentbridge/agentbridge/server/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, storetest.Suite{New: func(t *testing.T, r store.Retention) storetest.Opener {
		return func() (store.Store, error) { return store.NewMemory(r), nil }
	}})
}
