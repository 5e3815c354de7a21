package virt

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUserNetdev(t *testing.T) {
	for _, tc := range []struct {
		name     string
		forwards map[int]int
		want     string
	}{
		{"no forwards", nil, "user,id=n0,restrict=on"},
		{"forwards sorted by guest port", map[int]int{443: 40443, 22: 40022, 80: 40080, 53: 40053},
			"user,id=n0,restrict=on," +
				"hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40053-:53," +
				"hostfwd=tcp:127.0.0.1:40080-:80,hostfwd=tcp:127.0.0.1:40443-:443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := UserNetdev("n0", tc.forwards)
			assert.Equal(t, tc.want, got)
			// The same maps always give the same line: libvirt compares
			// domain XML, and map order is random.
			for range 20 {
				assert.Equal(t, got, UserNetdev("n0", tc.forwards))
			}
		})
	}
}

func TestUserNetdevID(t *testing.T) {
	assert.Equal(t, "user,id=net1,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22", UserNetdev("net1", map[int]int{22: 40022}))
}
