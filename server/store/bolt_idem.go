package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Idempotency records: "idem" maps a key to its expiry (8-byte big-endian unix nanoseconds)
// and value; "idemexp" maps expiry+key to nothing, so the sweeper finds expired records in
// order without reading the others. A record past its expiry is absent to Claim and Replace
// whether or not the sweeper has removed it yet: as in Redis, where the key expires.

func idemExpKey(expires int64, key string) []byte {
	//nolint:gosec // expiries are times after 1970
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)), uint64(expires)), key...)
}

// idemGet returns key's value and expiry, if it holds a record.
func idemGet(ib *bolt.Bucket, key string) (value []byte, expires int64, ok bool) {
	v := ib.Get([]byte(key))
	if len(v) < 8 {
		return nil, 0, false
	}
	return v[8:], int64(binary.BigEndian.Uint64(v)), true //nolint:gosec // written from a time
}

// idemSet stores key's record (value nil: removes it), keeping the expiry index in step.
func idemSet(tx *bolt.Tx, key string, value []byte, expires int64) error {
	ib, xb := tx.Bucket(bucketIdem), tx.Bucket(bucketIdemExp)
	if _, old, ok := idemGet(ib, key); ok {
		if err := xb.Delete(idemExpKey(old, key)); err != nil {
			return err
		}
	}
	if value == nil {
		return ib.Delete([]byte(key))
	}
	//nolint:gosec // expiries are times after 1970
	rec := append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(value)), uint64(expires)), value...)
	if err := ib.Put([]byte(key), rec); err != nil {
		return err
	}
	return xb.Put(idemExpKey(expires, key), nil)
}

func checkIdemKey(key string) error {
	if key == "" {
		return errors.New("store: an idempotency key must not be empty")
	}
	return checkName("idempotency key", key)
}

// Claim stores value under key for lease unless key holds an unexpired record; it returns
// claimed true, or what key holds. It is atomic (of two concurrent claims, one wins) and
// durable (fsynced) before it returns. It implements the server's IdempotencyStore.
func (b *Bolt) Claim(ctx context.Context, key string, value []byte, lease time.Duration) ([]byte, bool, error) {
	if err := checkIdemKey(key); err != nil {
		return nil, false, err
	}
	if err := b.enter(); err != nil {
		return nil, false, err
	}
	defer b.mu.RUnlock()
	var existing []byte
	var claimed bool
	err := b.write(func(tx *bolt.Tx) error {
		now := b.now()
		if v, exp, ok := idemGet(tx.Bucket(bucketIdem), key); ok && now.UnixNano() < exp {
			existing, claimed = slicesClone(v), false
			return nil
		}
		existing, claimed = nil, true
		return idemSet(tx, key, nonNil(value), now.Add(max(lease, time.Millisecond)).UnixNano())
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: idempotency claim: %w", err)
	}
	return existing, claimed, nil
}

// Replace sets key to value for ttl, or removes key when value is nil, if key still holds old
// (and has not expired). It implements the server's IdempotencyStore.
func (b *Bolt) Replace(ctx context.Context, key string, old, value []byte, ttl time.Duration) error {
	if err := checkIdemKey(key); err != nil {
		return err
	}
	if err := b.enter(); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	err := b.write(func(tx *bolt.Tx) error {
		now := b.now()
		v, exp, ok := idemGet(tx.Bucket(bucketIdem), key)
		if !ok || now.UnixNano() >= exp || !bytes.Equal(v, old) {
			return nil
		}
		if value == nil {
			return idemSet(tx, key, nil, 0)
		}
		return idemSet(tx, key, value, now.Add(max(ttl, time.Millisecond)).UnixNano())
	})
	if err != nil {
		return fmt.Errorf("store: idempotency record: %w", err)
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// sweepIdem removes up to n expired idempotency records.
func sweepIdem(tx *bolt.Tx, now time.Time, n int) error {
	ib, xb := tx.Bucket(bucketIdem), tx.Bucket(bucketIdemExp)
	c := xb.Cursor()
	for k, _ := c.First(); len(k) >= 8 && n > 0; k, _ = c.First() {
		if int64(binary.BigEndian.Uint64(k)) > now.UnixNano() { //nolint:gosec // written from a time
			return nil
		}
		key := slicesClone(k[8:])
		if err := xb.Delete(slicesClone(k)); err != nil {
			return err
		}
		if _, exp, ok := idemGet(ib, string(key)); ok && exp <= now.UnixNano() {
			if err := ib.Delete(key); err != nil {
				return err
			}
		}
		n--
	}
	return nil
}
