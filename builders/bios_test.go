package builders

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeBootImg is a 512-byte stand-in for GRUB's boot.img: recognisable
// bytes everywhere, the floppy-check jump at 0x66 and the boot signature.
func fakeBootImg() []byte {
	b := bytes.Repeat([]byte{0xb0}, sectorSize)
	b[0], b[1], b[2] = 0xeb, 0x63, 0x90 // jmp over the BPB
	b[0x64] = 0x80                      // boot drive
	b[0x66], b[0x67] = 0x74, 0x05       // the drive check jump
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	return b
}

// fakeMBR is a disk's first sector as sfdisk leaves it: a BPB-area pattern,
// a disk signature and the protective MBR partition table.
func fakeMBR() []byte {
	b := make([]byte, sectorSize)
	for i := bpbStart; i < bpbEnd; i++ {
		b[i] = 0x11
	}
	for i := ntMagic; i < partEnd; i++ {
		b[i] = byte(i)
	}
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	return b
}

// fakeCoreImg is a GRUB core.img of n sectors (the last one partial): a
// diskboot first sector whose block list at its end holds two stale
// entries and a zero terminator, and a second sector whose no-RS-length
// field is a real length, not 0xffff.
func fakeCoreImg(n int) []byte {
	b := make([]byte, n*sectorSize-100)
	for i := range b {
		b[i] = byte(0x30 + i/sectorSize)
	}
	first := sectorSize - blocklistSize
	entry := func(off int, start uint64, length uint16) {
		binary.LittleEndian.PutUint64(b[off:], start)
		binary.LittleEndian.PutUint16(b[off+8:], length)
		binary.LittleEndian.PutUint16(b[off+10:], 0x820)
	}
	entry(first, 7, 5)
	entry(first-blocklistSize, 99, 3)
	entry(first-2*blocklistSize, 0, 0) // terminator
	binary.LittleEndian.PutUint16(b[sectorSize+coreNoRSLengthOff:], 0x1234)
	return b
}

func TestPlaceBIOSBoot(t *testing.T) {
	const partStart, partSectors = 2048, 2048
	boot, mbr, coreImg := fakeBootImg(), fakeMBR(), fakeCoreImg(4)
	bootCopy, mbrCopy, coreCopy := bytes.Clone(boot), bytes.Clone(mbr), bytes.Clone(coreImg)

	newMBR, core, err := placeBIOSBoot(mbr, boot, coreImg, partStart, partSectors)
	require.NoError(t, err)
	assert.Equal(t, bootCopy, boot, "boot.img is not modified in place")
	assert.Equal(t, mbrCopy, mbr)
	assert.Equal(t, coreCopy, coreImg)

	t.Run("first sector", func(t *testing.T) {
		require.Len(t, newMBR, sectorSize)
		assert.Equal(t, boot[:3], newMBR[:3], "boot.img's jump")
		assert.Equal(t, mbr[0x03:0x5a], newMBR[0x03:0x5a], "the BPB is kept from the disk")
		assert.Equal(t, uint64(partStart), binary.LittleEndian.Uint64(newMBR[0x5c:]), "kernel sector: core.img's first sector")
		assert.Equal(t, byte(0xff), newMBR[0x64], "boot drive: the one the BIOS booted from")
		assert.Equal(t, []byte{0x90, 0x90}, newMBR[0x66:0x68], "the floppy check is two NOPs")
		assert.Equal(t, boot[0x68:0x1b8], newMBR[0x68:0x1b8], "boot.img's code")
		assert.Equal(t, mbr[0x1b8:0x1fe], newMBR[0x1b8:0x1fe], "disk signature and partition table are kept")
		assert.Equal(t, []byte{0x55, 0xaa}, newMBR[0x1fe:])
	})

	t.Run("core.img", func(t *testing.T) {
		require.Len(t, core, 4*sectorSize, "padded to whole sectors")
		first := sectorSize - blocklistSize
		assert.Equal(t, uint64(partStart+1), binary.LittleEndian.Uint64(core[first:]), "block list start: the sector after diskboot")
		assert.Equal(t, uint16(3), binary.LittleEndian.Uint16(core[first+8:]), "block list length: the other sectors")
		assert.Equal(t, uint16(0x820), binary.LittleEndian.Uint16(core[first+10:]), "load segment 0x800 + one sector")
		assert.Equal(t, make([]byte, blocklistSize), core[first-blocklistSize:first], "a zero entry ends the list")
		assert.Equal(t, coreImg[:first-blocklistSize], core[:first-blocklistSize], "diskboot's code is untouched")
		assert.Equal(t, coreImg[sectorSize:], core[sectorSize:len(coreImg)], "the rest of core.img is untouched")
		assert.Equal(t, make([]byte, len(core)-len(coreImg)), core[len(coreImg):], "padding is zeros")
	})
}

func TestPlaceBIOSBootErrors(t *testing.T) {
	wrongLayout := fakeCoreImg(4)
	binary.LittleEndian.PutUint16(wrongLayout[sectorSize+coreNoRSLengthOff:], 0xffff)
	cases := []struct {
		name            string
		mbr, boot, core []byte
		partSectors     int64
		want            string
	}{
		{"core larger than the partition", fakeMBR(), fakeBootImg(), fakeCoreImg(9), 8,
			"core.img has 9 sectors, the BIOS boot partition 8"},
		{"core larger than GRUB can load", fakeMBR(), fakeBootImg(), fakeCoreImg(int(coreSectorsMaximum) + 1), 4096,
			"core.img has 889 sectors, the BIOS boot partition 4096"},
		{"other core.img layout", fakeMBR(), fakeBootImg(), wrongLayout, 2048,
			"core.img is not an i386-pc GRUB image of the expected layout"},
		{"core.img of one sector", fakeMBR(), fakeBootImg(), make([]byte, sectorSize), 2048,
			"core.img is not an i386-pc GRUB image of the expected layout"},
		{"short boot.img", fakeMBR(), make([]byte, 440), fakeCoreImg(4), 2048,
			"boot.img and the disk's first sector must be 512 bytes"},
		{"short first sector", make([]byte, 100), fakeBootImg(), fakeCoreImg(4), 2048,
			"boot.img and the disk's first sector must be 512 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := placeBIOSBoot(c.mbr, c.boot, c.core, 2048, c.partSectors)
			require.EqualError(t, err, c.want)
		})
	}
}

func TestInstallBIOSBootWritesTheDisk(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	require.NoError(t, createSparse(disk, 4*mib))
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(fakeMBR(), 0)
	require.NoError(t, err)
	gpt := bytes.Repeat([]byte("EFI PART"), 64)
	_, err = f.WriteAt(gpt, sectorSize) // the primary GPT header must survive
	require.NoError(t, err)
	require.NoError(t, f.Close())
	bootPath, corePath := filepath.Join(dir, "boot.img"), filepath.Join(dir, "core.img")
	require.NoError(t, os.WriteFile(bootPath, fakeBootImg(), 0o644))
	require.NoError(t, os.WriteFile(corePath, fakeCoreImg(4), 0o644))

	require.NoError(t, installBIOSBoot(disk, bootPath, corePath))

	wantMBR, wantCore, err := placeBIOSBoot(fakeMBR(), fakeBootImg(), fakeCoreImg(4), biosStart/sectorSize, biosBootMiB*mib/sectorSize)
	require.NoError(t, err)
	got, err := os.ReadFile(disk)
	require.NoError(t, err)
	require.Len(t, got, int(4*mib), "the disk keeps its size")
	assert.Equal(t, wantMBR, got[:sectorSize])
	assert.Equal(t, gpt, got[sectorSize:sectorSize+len(gpt)])
	assert.Equal(t, wantCore, got[biosStart:biosStart+int64(len(wantCore))])
	assert.Equal(t, uint64(2049), binary.LittleEndian.Uint64(got[biosStart+sectorSize-blocklistSize:]))
}

func TestInstallBIOSBootMissingBootImg(t *testing.T) {
	dir := t.TempDir()
	err := installBIOSBoot(filepath.Join(dir, "disk.raw"), filepath.Join(dir, "boot.img"), filepath.Join(dir, "core.img"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read GRUB boot.img: ")
}
