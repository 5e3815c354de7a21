package builders

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepMakeESP makes the EFI system partition: a FAT filesystem holding
// GRUB as the removable-media loader EFI/BOOT/BOOTX64.EFI, which UEFI
// firmware starts without any boot entry. Made with mtools: no mount.
type stepMakeESP struct {
	Driver Driver
}

func (s *stepMakeESP) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	w, err := getWork(state)
	if err != nil {
		return halt(state, err)
	}
	spec, work, tools := w.spec, w.dir, w.tools
	id := identityFor(spec.Name)
	early := filepath.Join(work, "grub-early.cfg")
	if err := os.WriteFile(early, []byte(grubEarlyConfig(id)), 0o644); err != nil {
		return halt(state, fmt.Errorf("write GRUB early config: %w", err))
	}
	efi := filepath.Join(work, "BOOTX64.EFI")
	esp := filepath.Join(work, "esp.fat")
	if err := os.WriteFile(esp, nil, 0o644); err != nil {
		return halt(state, fmt.Errorf("create ESP image: %w", err))
	}
	if err := os.Truncate(esp, espMiB*mib); err != nil {
		return halt(state, fmt.Errorf("size ESP image: %w", err))
	}
	epoch := []string{fmt.Sprintf("SOURCE_DATE_EPOCH=%d", w.lock.SourceDateEpoch())}
	for _, c := range []Command{
		grubImageCommand(tools, "x86_64-efi", early, efi),
		// Not --invariant: it would override -i. SOURCE_DATE_EPOCH and
		// TZ=UTC0 already fix every time stamp FAT stores.
		{Name: "mkfs.fat", Tools: tools, Env: epoch, Args: []string{"-F", "32", "-s", "1", "-n", "ESP", "-i", id.ESPVolumeID, esp}},
		{Name: "mmd", Tools: tools, Env: epoch, Args: []string{"-i", esp, "::/EFI", "::/EFI/BOOT"}},
		{Name: "mcopy", Tools: tools, Env: epoch, Args: []string{"-i", esp, efi, "::/EFI/BOOT/BOOTX64.EFI"}},
	} {
		if err := s.Driver.Run(ctx, c); err != nil {
			return halt(state, fmt.Errorf("make the EFI system partition: %w", err))
		}
	}
	keyESP.put(state, esp)
	return multistep.ActionContinue
}

// Cleanup: the ESP image lives in the work directory.
func (s *stepMakeESP) Cleanup(multistep.StateBag) {}
