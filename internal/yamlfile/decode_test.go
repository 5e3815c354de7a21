package yamlfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type item struct {
	Name string `mapstructure:"name"`
}

type inner struct {
	Forwards map[int]int       `mapstructure:"forwards"`
	Labels   map[string]string `mapstructure:"labels"`
	Items    []item            `mapstructure:"items"`
}

type outer struct {
	Skipped string `mapstructure:"-"`
	Title   string `mapstructure:"title"`
	Inner   inner  `mapstructure:"inner"`
}

func decodeString(t *testing.T, yaml string) (outer, []Problem) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o644))
	var o outer
	found, err := Decode(p, &o)
	require.NoError(t, err)
	return o, found
}

func TestDecodeNestedStructsListsAndMaps(t *testing.T) {
	o, found := decodeString(t, `
title: x
inner:
  forwards: {22: 40022, 80: 40080}
  labels: {anything: goes, whatever: too}
  items:
    - name: a
`)
	assert.Empty(t, found, "map keys are data, not unknown keys")
	assert.Equal(t, outer{Title: "x", Inner: inner{
		Forwards: map[int]int{22: 40022, 80: 40080},
		Labels:   map[string]string{"anything": "goes", "whatever": "too"},
		Items:    []item{{Name: "a"}},
	}}, o)
}

func TestDecodeUnknownKeysHintFromTheirOwnLevel(t *testing.T) {
	_, found := decodeString(t, "titel: x\ninner:\n  forwrds: {22: 1}\n  items:\n    - nam: a\n")
	assert.Equal(t, []Problem{
		{Field: "inner.forwrds", Problem: "unknown key", Hint: `did you mean "forwards"?`},
		{Field: "inner.items[0].nam", Problem: "unknown key", Hint: `did you mean "name"?`},
		{Field: "titel", Problem: "unknown key", Hint: `did you mean "title"?`},
	}, found)
}

func TestDecodeTypeProblems(t *testing.T) {
	_, found := decodeString(t, "title: [a]\ninner:\n  forwards: {ssh: 22, 80: web}\n")
	var fields []string
	for _, p := range found {
		fields = append(fields, p.Field+": "+p.Problem)
	}
	assert.ElementsMatch(t, []string{
		"title: expected string, got a list",
		`inner.forwards[ssh]: "ssh" is not a number`,
		"inner.forwards[80]: expected int, got string",
	}, fields)
}

func TestDecodeRejectsNonStructTargets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.yaml")
	require.NoError(t, os.WriteFile(p, []byte("a: 1\n"), 0o644))
	var m map[string]any
	_, err := Decode(p, &m)
	assert.ErrorContains(t, err, "want a pointer to a struct")
}

func TestDecodeMissingFile(t *testing.T) {
	_, err := Decode(filepath.Join(t.TempDir(), "nope.yaml"), &outer{})
	assert.ErrorIs(t, err, os.ErrNotExist)
}
