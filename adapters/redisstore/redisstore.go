// Package redisstore keeps the bridge's shared state in Redis, so replicas behind one load
// balancer share it: rate budgets (an adapters.Limiter, for inbound and outbound limits) and
// idempotency records. Without a redis: section the bridge keeps both in process memory.
package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server/store"
)

// Config is the redis: section of the bridge's config.
type Config struct {
	// Address is host:port, or the path of a unix socket (unix:///path or an absolute path).
	Address string `yaml:"address"`
	// Username is the ACL user; empty for the default user.
	Username string `yaml:"username"`
	// Password is a ${ENV_VAR} reference; or use PasswordFile. Empty: no AUTH.
	Password string `yaml:"password"`
	// PasswordFile holds the password; relative to the config file.
	PasswordFile string `yaml:"password_file"`
	// DB is the database number. Default 0.
	DB int `yaml:"db"`
	// KeyPrefix starts every key the bridge writes, so several bridges (or other programs) can
	// share one Redis. Default "agentbridge:".
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds each command (dial, read, write): a Redis that does not answer delays a
	// call at most this long before the outcome Redis-down decides. Default 250ms.
	Timeout time.Duration `yaml:"timeout"`
	// TLS connects over TLS when set.
	TLS *TLSConfig `yaml:"tls"`
	// Retention trims the event logs kept in Redis (store.Store): set from the store: section
	// when its engine is redis, not from the redis: section. MaxBytes is not supported.
	Retention store.Retention `yaml:"-"`
}

// TLSConfig says how to check the Redis server's certificate.
type TLSConfig struct {
	// CAFile holds PEM CA certificates to check the server's certificate against, instead of
	// the system's; relative to the config file.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name expected in the certificate. Default: the address's host.
	ServerName string `yaml:"server_name"`
}

// Defaults of Config.
const (
	DefaultKeyPrefix = "agentbridge:"
	DefaultTimeout   = 250 * time.Millisecond
)

// Check reports what is wrong without connecting or reading a secret.
func (c *Config) Check() error {
	if c == nil {
		return nil
	}
	var errs []error
	if c.Address == "" {
		errs = append(errs, errors.New("redis.address: missing; give host:port or a unix socket path"))
	}
	if c.Password != "" && c.PasswordFile != "" {
		errs = append(errs, errors.New("redis.password: set password or password_file, not both"))
	}
	if c.Password != "" && !adapters.IsEnvRef(c.Password) {
		errs = append(errs, errors.New("redis.password: a secret cannot be written in the config in clear; pass it as password: ${ENV_VAR} or password_file: /path/to/file"))
	}
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("redis.db %d: must not be negative", c.DB))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("redis.timeout %s: must not be negative", c.Timeout))
	}
	errs = append(errs, checkRetention(c.Retention))
	return errors.Join(errs...)
}

// RelativeTo returns a copy of c whose file names are relative to dir (the config file's).
func (c Config) RelativeTo(dir string) Config {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.PasswordFile = rel(c.PasswordFile)
	if c.TLS != nil {
		t := *c.TLS
		t.CAFile = rel(t.CAFile)
		c.TLS = &t
	}
	return c
}

// Store is the shared state in one Redis. It connects lazily: Open does not dial, so config
// validate builds it without a Redis running. Safe for concurrent use.
type Store struct {
	client *redis.Client
	prefix string
	logState
}

var _ adapters.Limiter = (*Store)(nil)

// Open makes the store c describes: it reads the password and the CA file, but does not
// connect.
func Open(c Config) (*Store, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	o := &redis.Options{
		Network: "tcp", Addr: c.Address, Username: c.Username, DB: c.DB,
		DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout,
		// A call waits for Redis at most Timeout; retrying within it would only double that.
		MaxRetries: -1,
		// The bridge runs scripts; it needs no client-side caching or maintenance notices.
		DisableIdentity: true,
	}
	if p, ok := strings.CutPrefix(c.Address, "unix://"); ok || filepath.IsAbs(c.Address) {
		if !ok {
			p = c.Address
		}
		o.Network, o.Addr = "unix", p
	}
	if c.Password != "" || c.PasswordFile != "" {
		pw, err := adapters.ReadSecret(c.Password, c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis.password: %w", err)
		}
		o.Password = pw
	}
	if c.TLS != nil {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
		if cfg.ServerName == "" && o.Network == "tcp" {
			if host, _, ok := strings.Cut(c.Address, ":"); ok {
				cfg.ServerName = host
			}
		}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis.tls.ca_file: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis.tls.ca_file %s: no PEM certificate in it", c.TLS.CAFile)
			}
		}
		o.TLSConfig = cfg
	}
	return &Store{client: redis.NewClient(o), prefix: c.KeyPrefix, logState: newLogState(o, c)}, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx).Err() }

// Close closes the connections to Redis; Reads waiting for entries return. Closing again does
// nothing.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = errors.Join(s.client.Close(), s.blocking.Close())
	})
	return err
}

// gcra is the generic cell rate algorithm, in one atomic script so every replica takes from one
// budget exactly, by Redis's clock (replicas' clocks need not agree). The key holds the
// theoretical arrival time (TAT) in microseconds; a call is allowed when TAT + interval - burst
// × interval is not in the future. Numbers are formatted with %.0f: Lua's tostring would round
// a microsecond timestamp to 14 digits.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, string.format('%.0f', allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', math.ceil((new_tat - now) / 1000) + 1))
return {1, '0'}
`)

// Take implements adapters.Limiter with one GCRA budget per key, shared by every bridge using
// this Redis and key prefix. An error (Redis down or slow) is returned as is: the callers let
// the call through and count it (rate limits fail open).
func (s *Store) Take(ctx context.Context, key string, r adapters.Rate) (time.Duration, bool, error) {
	if !r.Limited() {
		return 0, true, nil
	}
	interval := 1e6 / r.PerSecond // microseconds between tokens
	tolerance := interval * float64(r.EffectiveBurst())
	res, err := gcra.Run(ctx, s.client, []string{s.prefix + "rate:" + key},
		fmt.Sprintf("%.3f", interval), fmt.Sprintf("%.3f", tolerance)).Slice()
	if err != nil {
		return 0, false, fmt.Errorf("redis: rate limit: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("redis: rate limit: unexpected reply %v", res)
	}
	ok, _ := res[0].(int64)
	if ok == 1 {
		return 0, true, nil
	}
	var waitUS float64
	if s, _ := res[1].(string); s != "" {
		_, _ = fmt.Sscan(s, &waitUS)
	}
	return time.Duration(waitUS) * time.Microsecond, false, nil
}
