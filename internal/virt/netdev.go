package virt

import (
	"fmt"
	"sort"
	"strings"
)

// UserNetdev is a QEMU user-mode network, restricted: the guest can send
// nothing to the host or beyond, and only the forwards (guest TCP port to
// host port), bound to 127.0.0.1, reach it. guestForwards are the one way
// out: guest address GuestForwardIP:port goes to the host address given.
// (libvirt 9.0's own <portForward> needs passt; QEMU's slirp is
// everywhere.)
func UserNetdev(id string, forwards map[int]int, guestForwards map[int]string) string {
	parts := []string{"user", "id=" + id, "restrict=on"}
	for _, g := range sortedKeys(forwards) {
		parts = append(parts, fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-:%d", forwards[g], g))
	}
	for _, p := range sortedKeys(guestForwards) {
		parts = append(parts, fmt.Sprintf("guestfwd=tcp:%s:%d-tcp:%s", GuestForwardIP, p, guestForwards[p]))
	}
	return strings.Join(parts, ",")
}

// GuestForwardIP is the address in the guest's user-mode network at
// which guest forwards answer.
const GuestForwardIP = "10.0.2.100"

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
