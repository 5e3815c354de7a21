package builders

import (
	"encoding/binary"
	"fmt"
)

// GRUB's BIOS boot code, placed the way grub-bios-setup --no-rs-codes
// places it on a GPT disk, but on an image file: grub-bios-setup insists on
// a block device. Offsets are those of GRUB's include/grub/i386/pc/boot.h
// and util/setup.c.
const (
	bpbStart, bpbEnd   = 0x03, 0x5a   // BIOS parameter block: kept from the disk
	bootKernelSector   = 0x5c         // u64: first sector of core.img
	bootDrive          = 0x64         // 0xff: the drive the BIOS booted from
	bootDriveCheck     = 0x66         // a jump, replaced by two NOPs on hard disks
	ntMagic, partEnd   = 0x1b8, 0x1fe // disk signature and partition table: kept
	blocklistSize      = 12           // {u64 start; u16 len; u16 segment}
	kernelSegment      = 0x800        // where core.img's second sector is loaded
	coreNoRSLengthOff  = 0x14         // in core.img's second sector; 0xffff means another layout
	coreSectorsMaximum = (0x78000 - 0x9000) / sectorSize
)

// placeBIOSBoot returns the new first sector of the disk and the core.img
// bytes to write at the start of the BIOS boot partition (partStart, in
// sectors, partSectors long).
func placeBIOSBoot(mbr, bootImg, coreImg []byte, partStart, partSectors int64) (newMBR, core []byte, err error) {
	if len(mbr) != sectorSize || len(bootImg) != sectorSize {
		return nil, nil, fmt.Errorf("boot.img and the disk's first sector must be %d bytes", sectorSize)
	}
	coreSectors := (int64(len(coreImg)) + sectorSize - 1) / sectorSize
	if coreSectors > partSectors || coreSectors > coreSectorsMaximum {
		return nil, nil, fmt.Errorf("core.img has %d sectors, the BIOS boot partition %d", coreSectors, partSectors)
	}
	if len(coreImg) < 2*sectorSize || binary.LittleEndian.Uint16(coreImg[sectorSize+coreNoRSLengthOff:]) == 0xffff {
		return nil, nil, fmt.Errorf("core.img is not an i386-pc GRUB image of the expected layout")
	}
	newMBR = append([]byte(nil), bootImg...)
	copy(newMBR[bpbStart:bpbEnd], mbr[bpbStart:bpbEnd])
	copy(newMBR[ntMagic:partEnd], mbr[ntMagic:partEnd])
	newMBR[bootDriveCheck], newMBR[bootDriveCheck+1] = 0x90, 0x90
	newMBR[bootDrive] = 0xff
	binary.LittleEndian.PutUint64(newMBR[bootKernelSector:], uint64(partStart))

	core = make([]byte, coreSectors*sectorSize)
	copy(core, coreImg)
	// core.img's first sector (diskboot) loads the rest from a block list
	// at its end, growing downwards: one contiguous run, then a zero end.
	first := sectorSize - blocklistSize
	for off := first; off > 0 && binary.LittleEndian.Uint16(core[off+8:]) != 0; off -= blocklistSize {
		clear(core[off : off+blocklistSize])
	}
	binary.LittleEndian.PutUint64(core[first:], uint64(partStart+1))
	binary.LittleEndian.PutUint16(core[first+8:], uint16(coreSectors-1))
	binary.LittleEndian.PutUint16(core[first+10:], kernelSegment+sectorSize>>4)
	clear(core[first-blocklistSize : first])
	return newMBR, core, nil
}
