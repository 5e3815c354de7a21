// Package yamlfile decodes YAML files written by people into Go structs,
// strictly: every unknown key and badly typed value is reported, with the
// YAML path and a hint, rather than silently ignored or converted. Specs
// (images) and environments (deploy) share it.
package yamlfile

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/hashicorp/packer-plugin-sdk/didyoumean"
	"github.com/spf13/viper"
)

// Problem is one place where a file does not fit the target type.
type Problem struct {
	Field   string // YAML path such as files[0].mode
	Problem string
	Hint    string
}

// typeHint is how to fix a badly typed value: YAML guesses types, and
// unquoted 0644 is a number.
const typeHint = `quote strings ("0644", "4GiB") and write lists as "- item" lines`

// Decode reads the YAML file at path into out, a pointer to a struct whose
// fields carry `mapstructure:"key"` tags. It returns every unknown key
// (with a did-you-mean hint) and badly typed value at once as problems;
// err is for an unreadable file or invalid YAML. Keys are
// case-insensitive, as viper reads them; viper also splits keys at dots,
// so the keys of map[string]string fields cannot hold one, and drops
// empty mappings.
func Decode(path string, out any) (problems []Problem, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %w", path, err)
	}
	t := reflect.TypeOf(out)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("decode %s: want a pointer to a struct, got %T", path, out)
	}
	doc := v.AllSettings()
	// Unknown keys are found from the YAML itself, not from the decoder,
	// which stops recording them at the first type error.
	found := walk(doc, t.Elem(), "")
	// Same decoder as viper's Unmarshal, but strict: a file is written by
	// people, and "mode: 0644" silently becoming "420", or
	// "console=ttyS0,115200" split into two arguments at the comma, is
	// worse than an error asking for quotes or a list.
	if decodeErr := strictDecode(doc, out); decodeErr != nil {
		for _, msg := range decodeMessages(decodeErr) {
			field, problem := typeProblem(msg)
			problems = append(problems, Problem{Field: field, Problem: problem, Hint: typeHint})
		}
	}
	problems = append(problems, found...)
	return problems, nil
}

var (
	mismatchRE = regexp.MustCompile(`^'([^']*)' expected type '([^']*)', got unconvertible type '([^']*)'`)
	shapeRE    = regexp.MustCompile(`^'([^']*)'(?: source data)? (?:must be|expected) an? (array or slice|map)(?: or struct)?,? got '?"?([^',"]+)"?'?`)
)

// walk checks a decoded YAML document against struct type t, before
// decoding: it reports keys t does not have, with a hint from the keys it
// would have accepted at that place, and turns the keys of integer-keyed
// maps (forwards: {22: 40022}) back into integers, since viper hands every
// key over as a string. The keys of maps are data, never unknown keys.
// Problems come sorted by YAML path.
func walk(doc map[string]any, t reflect.Type, prefix string) []Problem {
	fields := tagged(t)
	var problems []Problem
	for key, val := range doc {
		ft, ok := fields[key]
		if !ok {
			problems = append(problems, Problem{Field: prefix + key, Problem: "unknown key", Hint: unknownKeyHint(key, structKeys(t))})
			continue
		}
		switch m := val.(type) {
		case map[string]any:
			if ft.Kind() == reflect.Struct {
				problems = append(problems, walk(m, ft, prefix+key+".")...)
			} else if ft.Kind() == reflect.Map && ft.Key().Kind() >= reflect.Int && ft.Key().Kind() <= reflect.Uint64 {
				var bad []Problem
				doc[key], bad = intKeys(m, ft.Elem(), prefix+key)
				problems = append(problems, bad...)
			}
		case []any:
			if ft.Kind() != reflect.Slice || ft.Elem().Kind() != reflect.Struct {
				continue
			}
			for i, item := range m {
				if im, ok := item.(map[string]any); ok {
					problems = append(problems, walk(im, ft.Elem(), fmt.Sprintf("%s%s[%d].", prefix, key, i))...)
				}
			}
		}
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
	return problems
}

// intKeys converts a mapping's keys to integers. Entries with a bad key or
// value are dropped and reported here, where the key is known: the
// decoder would name them "[<int Value>]".
func intKeys(m map[string]any, elem reflect.Type, field string) (map[int]any, []Problem) {
	ints := make(map[int]any, len(m))
	var problems []Problem
	for k, v := range m {
		n, err := strconv.Atoi(k)
		if err != nil {
			problems = append(problems, Problem{Field: fmt.Sprintf("%s[%s]", field, k), Problem: fmt.Sprintf("%q is not a number", k), Hint: "the keys of " + field + " are numbers"})
			continue
		}
		if err := strictDecode(v, reflect.New(elem).Interface()); err != nil {
			for _, msg := range decodeMessages(err) {
				_, problem := typeProblem(msg)
				problems = append(problems, Problem{Field: fmt.Sprintf("%s[%d]", field, n), Problem: problem, Hint: typeHint})
			}
			continue
		}
		ints[n] = v
	}
	return ints, problems
}

// tagged maps the YAML keys of struct type t to their field types.
func tagged(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("mapstructure"); tag != "" && tag != "-" {
			fields[tag] = t.Field(i).Type
		}
	}
	return fields
}

// strictDecode is viper's Unmarshal without its weak typing and hooks.
func strictDecode(in, out any) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: out, WeaklyTypedInput: false})
	if err != nil {
		return fmt.Errorf("decoder for %T: %w", out, err)
	}
	return dec.Decode(in)
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
func unknownKeyHint(key string, known []string) string {
	if s := didyoumean.NameSuggestion(key, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return "known keys are " + strings.Join(known, ", ")
}

// structKeys are the YAML keys of struct type t, in declaration order.
func structKeys(t reflect.Type) []string {
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
