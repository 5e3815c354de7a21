package virt

import (
	"fmt"
	"sort"
	"strings"
)

// UserNetdev is a QEMU user-mode network, restricted: the guest can send
// nothing to the host or beyond, and only the forwards (guest TCP port to
// host port), bound to 127.0.0.1, reach it. (libvirt 9.0's own
// <portForward> needs passt; QEMU's slirp is everywhere. Its guestfwd,
// a way out, carries one TCP stream for all the guest's connections:
// what the guest must reach goes through SSH instead.)
func UserNetdev(id string, forwards map[int]int) string {
	parts := []string{"user", "id=" + id, "restrict=on"}
	for _, g := range sortedKeys(forwards) {
		parts = append(parts, fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-:%d", forwards[g], g))
	}
	return strings.Join(parts, ",")
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
