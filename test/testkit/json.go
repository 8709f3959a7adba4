package testkit

// Field walks a decoded JSON object (encoding/json's map[string]any) down
// keys and returns the value there, nil when a key is missing or a value
// on the way is not an object: Field(system, "Boot", "BootSourceOverrideTarget").
func Field(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
