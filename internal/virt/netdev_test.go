package virt

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUserNetdev(t *testing.T) {
	for _, tc := range []struct {
		name          string
		forwards      map[int]int
		guestForwards map[int]string
		want          string
	}{
		{"no forwards", nil, nil, "user,id=n0,restrict=on"},
		{"forwards sorted by guest port", map[int]int{443: 40443, 22: 40022, 80: 40080, 53: 40053}, nil,
			"user,id=n0,restrict=on," +
				"hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40053-:53," +
				"hostfwd=tcp:127.0.0.1:40080-:80,hostfwd=tcp:127.0.0.1:40443-:443"},
		{"guest forwards after host forwards, sorted", map[int]int{22: 2222},
			map[int]string{14000: "127.0.0.1:14000", 443: "127.0.0.1:8443"},
			"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22," +
				"guestfwd=tcp:10.0.2.100:443-tcp:127.0.0.1:8443,guestfwd=tcp:10.0.2.100:14000-tcp:127.0.0.1:14000"},
		{"guest forwards only", nil, map[int]string{80: "192.0.2.1:80"},
			"user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-tcp:192.0.2.1:80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := UserNetdev("n0", tc.forwards, tc.guestForwards)
			assert.Equal(t, tc.want, got)
			// The same maps always give the same line: libvirt compares
			// domain XML, and map order is random.
			for range 20 {
				assert.Equal(t, got, UserNetdev("n0", tc.forwards, tc.guestForwards))
			}
		})
	}
}

func TestUserNetdevID(t *testing.T) {
	assert.Equal(t, "user,id=net1,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22", UserNetdev("net1", map[int]int{22: 40022}, nil))
}
