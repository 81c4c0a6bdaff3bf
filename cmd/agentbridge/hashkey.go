package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// hashKey prints the SHA-256 of an API key read from stdin, for auth.api_keys[].sha256. The key
// is read from stdin, not an argument, so it shows in no process list or shell history; one
// trailing newline (as echo and a terminal add) is not part of the key. The same value comes
// from: printf %s "$KEY" | sha256sum.
func hashKey(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	key := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if key == "" {
		return errors.New("hash-key: write the API key to stdin (agentbridge hash-key < keyfile)")
	}
	sum := sha256.Sum256([]byte(key))
	_, err = fmt.Fprintln(stdout, hex.EncodeToString(sum[:]))
	return err
}
