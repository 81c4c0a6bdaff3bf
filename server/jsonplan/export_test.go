package jsonplan

import "google.golang.org/protobuf/proto"

// Fast reads data into m by plan alone and reports whether it could, for tests that check
// the plan's own results against protojson's.
func (d *Decoder) Fast(data []byte, m proto.Message) bool { return d.fast(data, m) }
