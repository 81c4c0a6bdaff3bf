package toolschema

import (
	gapi "google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Required reports whether fd is marked (google.api.field_behavior) = REQUIRED. The server
// rejects a request that leaves such a field unset on every surface, so an input schema lists it
// in "required".
func Required(fd protoreflect.FieldDescriptor) bool {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, gapi.E_FieldBehavior) {
		return false
	}
	behaviors, _ := proto.GetExtension(opts, gapi.E_FieldBehavior).([]gapi.FieldBehavior)
	for _, b := range behaviors {
		if b == gapi.FieldBehavior_REQUIRED {
			return true
		}
	}
	return false
}

// behaviorNotes states what "set" means for a REQUIRED field where presence of the property is
// not enough: a list or map needs an element (as minItems or minProperties), and a scalar without
// presence a value other than its zero value, which protobuf cannot tell from absent.
func behaviorNotes(fd protoreflect.FieldDescriptor, s map[string]any) []string {
	if !Required(fd) {
		return nil
	}
	switch {
	case fd.IsList():
		if s["type"] == "array" {
			if n, _ := s["minItems"].(uint64); n < 1 {
				s["minItems"] = uint64(1)
			}
		}
		return []string{"Required: at least one item."}
	case fd.IsMap():
		if s["type"] == "object" {
			if n, _ := s["minProperties"].(uint64); n < 1 {
				s["minProperties"] = uint64(1)
			}
		}
		return []string{"Required: at least one entry."}
	case !fd.HasPresence():
		return []string{"Required: the zero value (\"\", 0, false, the first enum value) counts as not set."}
	}
	return nil
}
