package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSpread(t *testing.T) {
	assert.Equal(t, "-", spread(nil, "s", 1, 1))
	assert.Equal(t, "4.0 s", spread([]float64{4}, "s", 1, 1))
	assert.Equal(t, "78.0 s (71.2–80.4)", spread([]float64{80.4, 71.2, 78}, "s", 1, 1))
	assert.Equal(t, "2.0 MiB (1.0–3.0)", spread([]float64{1 << 20, 3 << 20, 2 << 20}, "MiB", 1<<20, 1))
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
}
