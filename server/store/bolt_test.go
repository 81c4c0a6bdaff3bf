package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/server/store"
	"github.com/agentbridge/agentbridge/server/store/storetest"
)

func TestBolt(t *testing.T) {
	storetest.Run(t, storetest.Suite{Durable: true, New: func(t *testing.T, r store.Retention) storetest.Opener {
		path := filepath.Join(t.TempDir(), "data", "agentbridge.db")
		return func() (store.Store, error) { return store.OpenBolt(path, r) }
	}})
}

func TestBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "agentbridge.db")
	st, err := store.OpenBolt(path, store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the file's mode is %v, want no access for group and others", fi.Mode().Perm())
	}
	// a second opener (flock is per open file, so this is what another process sees) fails fast
	start := time.Now()
	_, err = store.OpenBolt(path, store.Retention{}, store.BoltLockTimeout(100*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "is in use by another agentbridge process") || !strings.Contains(err.Error(), path) {
		t.Fatalf("a second open of the same file: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a second open took %v to fail", d)
	}
	// once closed, another may open it
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	again, err := store.OpenBolt(path, store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	_ = again.Close()
	if _, err := store.OpenBolt(path, store.Retention{MaxEntries: -1}); err == nil {
		t.Fatal("a negative retention was accepted")
	}
}

func TestBoltBackup(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenBolt(filepath.Join(dir, "live.db"), store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()
	app, err := st.Append(ctx, "hooks", store.Record{Key: "k1", Data: []byte("one")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "jobs", store.KV{Key: "j", Value: []byte("state")}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := st.Backup(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("Backup = %d, %v (wrote %d)", n, err, buf.Len())
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(copyPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := store.OpenBolt(copyPath, store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if got, err := cp.Read(ctx, "hooks", "", 10, 0); err != nil || len(got) != 1 || got[0].Cursor != app[0].Cursor || string(got[0].Data) != "one" {
		t.Fatalf("the copy's log = %v, %v", got, err)
	}
	if v, err := cp.Get(ctx, "jobs", "j"); err != nil || string(v) != "state" {
		t.Fatalf("the copy's table = %q, %v", v, err)
	}
	if d, err := cp.Append(ctx, "hooks", store.Record{Key: "k1"}); err != nil || !d[0].Duplicate {
		t.Fatalf("the copy forgot a de-duplication key: %v, %v", d, err)
	}
}

// TestBoltEdges covers what the suite does not: empty values, empty table keys, the bytes bound.
func TestBoltEdges(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "a.db"), store.Retention{MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()
	if err := st.Put(ctx, "t", store.KV{Key: "empty", Value: nil}); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, "t", "empty"); err != nil || len(v) != 0 {
		t.Fatalf("an empty value = %q, %v", v, err)
	}
	if err := st.Put(ctx, "t", store.KV{Key: "", Value: []byte("x")}); err == nil {
		t.Fatal("an empty table key was accepted")
	}
	if err := st.Delete(ctx, "never-made"); err != nil {
		t.Fatal(err)
	}
	// 4+4+4 bytes: the first is removed, and with it its key
	for _, k := range []string{"a", "b", "c"} {
		if _, err := st.Append(ctx, "b", store.Record{Key: k, Data: []byte("1234")}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Read(ctx, "b", "", 10, 0)
	if err != nil || len(got) != 2 || got[0].Key != "b" {
		t.Fatalf("a topic bounded to 10 bytes holds %v, %v", got, err)
	}
	if d, err := st.Append(ctx, "b", store.Record{Key: "a", Data: []byte("1")}); err != nil || d[0].Duplicate {
		t.Fatalf("the key of a removed entry still de-duplicates: %v, %v", d, err)
	}
	if d, err := st.Append(ctx, "b", store.Record{Key: "c"}); err != nil || !d[0].Duplicate {
		t.Fatalf("the key of a kept entry does not de-duplicate: %v, %v", d, err)
	}
}
