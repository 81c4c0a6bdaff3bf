package main

import (
	"context"
	"crypto/sha256"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/agentbridge/agentbridge/server"
)

// watchInterval is how often -watch looks at the files. Polling works the same on every file
// system and with editors that replace a file rather than write it.
const watchInterval = 500 * time.Millisecond

// reloadLoop reloads the config and its contracts on SIGHUP and, with watch, when one of their
// files changes. A config or contract that fails to build is refused with its reason in the
// log, and the one in force stays.
func reloadLoop(ctx context.Context, srv *server.Server, load func() (*server.Config, error), watch bool, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var tick <-chan time.Time
	var last [sha256.Size]byte
	var files func() [sha256.Size]byte
	if watch {
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		tick = t.C
		files = func() [sha256.Size]byte {
			cfg, err := load()
			if err != nil {
				return [sha256.Size]byte{} // an unreadable config changes the print when it heals
			}
			return fingerprint(cfg)
		}
		last = files()
	}
	reload := func(why string) {
		cfg, err := load()
		if err == nil {
			err = srv.ReloadConfig(cfg)
		}
		if err != nil {
			logger.Error("reload refused; still serving the previous config", "trigger", why, "err", err)
			return
		}
		logger.Info("reload done", "trigger", why)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload("SIGHUP")
			if watch {
				last = files()
			}
		case <-tick:
			if now := files(); now != last {
				last = now
				reload("file change")
			}
		}
	}
}

// fingerprint sums the names, sizes and modification times of the files a config depends on:
// itself, every .proto under its proto paths, and its descriptor sets.
func fingerprint(cfg *server.Config) [sha256.Size]byte {
	src := cfg.Sources()
	var paths []string
	if p := cfg.Path(); p != "" {
		paths = append(paths, p)
	}
	paths = append(paths, src.DescriptorSets...)
	if len(src.Protos) > 0 {
		for _, root := range src.ProtoPaths {
			_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(p, ".proto") {
					paths = append(paths, p)
				}
				return nil
			})
		}
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		h.Write([]byte(p))
		if st, err := os.Stat(p); err == nil {
			h.Write([]byte(st.ModTime().String()))
			h.Write([]byte{byte(st.Size()), byte(st.Size() >> 8), byte(st.Size() >> 16), byte(st.Size() >> 24)})
		}
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
