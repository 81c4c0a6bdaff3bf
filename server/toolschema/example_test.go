package toolschema_test

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

func ExampleInput() {
	comments := map[protoreflect.FullName]string{
		"agentbridge.demo.v1.GetItemRequest":     "GetItemRequest names the item to look up.",
		"agentbridge.demo.v1.GetItemRequest.sku": "SKU of the item, such as A-100.",
	}
	md := (&demov1.GetItemRequest{}).ProtoReflect().Descriptor()
	schema, err := toolschema.Input(md, toolschema.Options{
		Describe: func(n protoreflect.FullName) string { return comments[n] },
	})
	if err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(schema, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "$schema": "https://json-schema.org/draft/2020-12/schema",
	//   "additionalProperties": false,
	//   "description": "GetItemRequest names the item to look up.",
	//   "properties": {
	//     "sku": {
	//       "description": "SKU of the item, such as A-100.",
	//       "pattern": "^[A-Z]-[0-9]{3}$",
	//       "type": "string"
	//     }
	//   },
	//   "required": [
	//     "sku"
	//   ],
	//   "type": "object"
	// }
}
