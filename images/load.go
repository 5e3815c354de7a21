package images

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/hashicorp/packer-plugin-sdk/didyoumean"
	"github.com/spf13/viper"
)

// Load reads a spec file, rejects unknown keys and badly typed values (all
// of them at once), and applies the defaults. It does not validate values:
// that is Validate's job, which needs the mirror's package index.
func Load(path string) (*Spec, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read spec %s: %w (pass the path of a spec, e.g. images/utzqanil.yaml)", path, err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %w", path, err)
	}
	spec := &Spec{}
	decodeErr := v.Unmarshal(spec, func(c *mapstructure.DecoderConfig) {
		// A spec is written by people: "mode: 0644" silently becoming
		// "420", or "console=ttyS0,115200" split into two arguments at the
		// comma, is worse than an error asking for quotes or a list.
		c.WeaklyTypedInput = false
		c.DecodeHook = nil
	})
	p := &problems{file: path}
	if decodeErr != nil {
		for _, msg := range decodeMessages(decodeErr) {
			field, problem := typeProblem(msg)
			p.add(field, `quote strings ("0644", "4GiB") and write lists as "- item" lines`, "%s", problem)
		}
	}
	// Unknown keys are found from the YAML itself, not from the decoder,
	// which stops recording them at the first type error.
	for _, key := range unknownKeys(v.AllSettings(), reflect.TypeOf(Spec{}), "") {
		p.add(key, unknownKeyHint(key), "unknown key")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	spec.Path = path
	ApplyDefaults(spec)
	return spec, nil
}

var (
	indexRE    = regexp.MustCompile(`\[\d+\]`)
	mismatchRE = regexp.MustCompile(`^'([^']*)' expected type '([^']*)', got unconvertible type '([^']*)'`)
	shapeRE    = regexp.MustCompile(`^'([^']*)'(?: source data)? (?:must be|expected) an? (array or slice|map)(?: or struct)?,? got '?"?([^',"]+)"?'?`)
)

// unknownKeys lists the keys of a decoded YAML document that the spec
// type does not have, as YAML paths (files[0].mod), sorted.
func unknownKeys(doc map[string]any, t reflect.Type, prefix string) []string {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("mapstructure"); tag != "" && tag != "-" {
			fields[tag] = t.Field(i).Type
		}
	}
	var unknown []string
	for key, val := range doc {
		ft, ok := fields[key]
		if !ok {
			unknown = append(unknown, prefix+key)
			continue
		}
		// Mappings (dns:) are checked key by key, lists of structs
		// (files:) item by item.
		if m, ok := val.(map[string]any); ok && ft.Kind() == reflect.Struct {
			unknown = append(unknown, unknownKeys(m, ft, prefix+key+".")...)
			continue
		}
		list, isList := val.([]any)
		if !isList || ft.Kind() != reflect.Slice || ft.Elem().Kind() != reflect.Struct {
			continue
		}
		for i, item := range list {
			if m, ok := item.(map[string]any); ok {
				unknown = append(unknown, unknownKeys(m, ft.Elem(), fmt.Sprintf("%s%s[%d].", prefix, key, i))...)
			}
		}
	}
	sort.Strings(unknown)
	return unknown
}

// typeProblem turns mapstructure's wording into field and problem.
func typeProblem(msg string) (field, problem string) {
	if m := shapeRE.FindStringSubmatch(msg); m != nil {
		want := "a list"
		if m[2] == "map" {
			want = "a mapping of keys to values"
		}
		return m[1], fmt.Sprintf("expected %s, got %s", want, describeGot(m[3]))
	}
	m := mismatchRE.FindStringSubmatch(msg)
	if m == nil {
		return "", msg
	}
	want := m[2]
	if strings.HasPrefix(want, "[]") {
		want = "a list of " + strings.TrimPrefix(want, "[]")
	}
	return m[1], fmt.Sprintf("expected %s, got %s", want, describeGot(m[3]))
}

func describeGot(got string) string {
	switch {
	case strings.HasPrefix(got, "[]"), got == "slice":
		return "a list"
	case strings.HasPrefix(got, "map"):
		return "a mapping"
	}
	return got
}

// unknownKeyHint suggests the known key closest to a misspelt one.
func unknownKeyHint(key string) string {
	parts := strings.Split(key, ".")
	last := indexRE.ReplaceAllString(parts[len(parts)-1], "")
	known := specKeys(reflect.TypeOf(Spec{}))
	if len(parts) > 1 {
		known = specKeys(reflect.TypeOf(File{}))
	}
	if s := didyoumean.NameSuggestion(last, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return "known keys are " + strings.Join(known, ", ")
}

func specKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("mapstructure"); tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// decodeMessages flattens mapstructure's joined errors into one line each.
func decodeMessages(err error) []string {
	var msgs []string
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			msgs = append(msgs, decodeMessages(e)...)
		}
		return msgs
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line != "" && !strings.HasPrefix(line, "decoding failed") && !strings.Contains(line, "error(s) decoding") {
			msgs = append(msgs, line)
		}
	}
	return msgs
}
