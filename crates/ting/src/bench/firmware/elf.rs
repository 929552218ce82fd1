//! Section sizes of a little-endian ELF32 file (what `size -A` shows), read
//! from its section header table: enough to size a Cortex-M image without a
//! crate or binutils.

use anyhow::{bail, ensure, Context};

/// `sh_type` of a section that takes no room in the file (`.bss`).
const SHT_NOBITS: u32 = 8;
/// `sh_flags` bit of a section loaded into the target's memory.
const SHF_ALLOC: u32 = 0x2;
/// Bytes of one ELF32 section header.
const SHDR_BYTES: usize = 40;

/// What an image takes in flash, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    pub text: u64,
    pub rodata: u64,
    /// Every allocated section with contents in the file: `.text`,
    /// `.rodata`, `.data` (its initial values), `.ARM.exidx` and the like;
    /// not `.bss`.
    pub flash: u64,
}

/// Reads the section sizes of the ELF32 file `bytes`.
pub fn footprint(bytes: &[u8]) -> anyhow::Result<Footprint> {
    let mut out = Footprint::default();
    for s in sections(bytes)? {
        let size = u64::from(s.size);
        if s.name == ".text" || s.name.starts_with(".text.") {
            out.text += size;
        }
        if s.name == ".rodata" || s.name.starts_with(".rodata.") {
            out.rodata += size;
        }
        if s.flags & SHF_ALLOC != 0 && s.kind != SHT_NOBITS {
            out.flash += size;
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct Section {
    name: String,
    kind: u32,
    flags: u32,
    size: u32,
}

fn sections(bytes: &[u8]) -> anyhow::Result<Vec<Section>> {
    ensure!(
        bytes.len() >= 4 && bytes[..4] == *b"\x7fELF",
        "not an ELF file (no \\x7fELF magic)"
    );
    ensure!(
        bytes.len() >= 52,
        "truncated ELF header ({} bytes)",
        bytes.len()
    );
    match (bytes[4], bytes[5]) {
        (1, 1) => {}
        (1, _) => bail!("a big-endian ELF32 file; only little-endian is read"),
        (class, _) => bail!("not a 32-bit ELF file (class {class})"),
    }
    let shoff = to_usize(u32_at(bytes, 0x20)?);
    let entsize = usize::from(u16_at(bytes, 0x2e)?);
    let count = usize::from(u16_at(bytes, 0x30)?);
    let names_index = usize::from(u16_at(bytes, 0x32)?);
    ensure!(
        entsize == SHDR_BYTES,
        "section headers of {entsize} bytes, not {SHDR_BYTES}"
    );
    ensure!(names_index < count, "no section-name table");
    let header = |i: usize| -> anyhow::Result<&[u8]> {
        let start = shoff + i * SHDR_BYTES;
        bytes
            .get(start..start + SHDR_BYTES)
            .with_context(|| format!("truncated ELF: section header {i} of {count} is cut off"))
    };
    let names = header(names_index)?;
    let (names_at, names_len) = (u32_at(names, 16)?, u32_at(names, 20)?);
    let names = bytes
        .get(to_usize(names_at)..to_usize(names_at) + to_usize(names_len))
        .context("truncated ELF: the section-name table is cut off")?;
    (0..count)
        .map(|i| {
            let h = header(i)?;
            let at = to_usize(u32_at(h, 0)?);
            let name = names
                .get(at..)
                .and_then(|rest| rest.split(|&b| b == 0).next())
                .with_context(|| format!("section {i}'s name is outside the name table"))?;
            Ok(Section {
                name: String::from_utf8_lossy(name).into_owned(),
                kind: u32_at(h, 4)?,
                flags: u32_at(h, 8)?,
                size: u32_at(h, 20)?,
            })
        })
        .collect()
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).expect("usize holds a u32 on the hosts ting runs on")
}

fn u16_at(bytes: &[u8], at: usize) -> anyhow::Result<u16> {
    let b = bytes.get(at..at + 2).context("truncated ELF")?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> anyhow::Result<u32> {
    let b = bytes.get(at..at + 4).context("truncated ELF")?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF32 file: header, a name table, then section headers for
    /// (name, type, flags, size). Section contents are not needed.
    fn tiny_elf(sections: &[(&str, u32, u32, u32)]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_at = Vec::new();
        for (name, ..) in sections {
            name_at.push(n32(names.len()));
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let shstrtab_name = n32(names.len());
        names.extend_from_slice(b".shstrtab\0");
        let names_at = 52u32;
        let shoff = names_at + n32(names.len());
        let count = u16::try_from(sections.len() + 2).unwrap(); // the null section and .shstrtab
        let mut elf = vec![0u8; 52];
        elf[..7].copy_from_slice(b"\x7fELF\x01\x01\x01");
        elf[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf[0x12..0x14].copy_from_slice(&40u16.to_le_bytes()); // EM_ARM
        elf[0x20..0x24].copy_from_slice(&shoff.to_le_bytes());
        elf[0x2e..0x30].copy_from_slice(&40u16.to_le_bytes());
        elf[0x30..0x32].copy_from_slice(&count.to_le_bytes());
        elf[0x32..0x34].copy_from_slice(&(count - 1).to_le_bytes());
        elf.extend_from_slice(&names);
        let mut header = |name: u32, kind: u32, flags: u32, offset: u32, size: u32| {
            for field in [name, kind, flags, 0, offset, size, 0, 0, 1, 0] {
                elf.extend_from_slice(&field.to_le_bytes());
            }
        };
        header(0, 0, 0, 0, 0);
        for ((_, kind, flags, size), name) in sections.iter().zip(name_at) {
            header(name, *kind, *flags, 0, *size);
        }
        header(shstrtab_name, 3, 0, names_at, n32(names.len()));
        elf
    }

    fn n32(n: usize) -> u32 {
        u32::try_from(n).unwrap()
    }

    fn arm_image() -> Vec<u8> {
        const PROGBITS: u32 = 1;
        const ARM_EXIDX: u32 = 0x7000_0001;
        tiny_elf(&[
            (".text", PROGBITS, 0x6, 1000),
            (".rodata", PROGBITS, 0x2, 200),
            (".ARM.exidx", ARM_EXIDX, 0x82, 16),
            (".data", PROGBITS, 0x3, 8),
            (".bss", SHT_NOBITS, 0x3, 4096),
            (".comment", PROGBITS, 0x30, 64),
        ])
    }

    #[test]
    fn firmware_elf_sizes_count_allocated_sections_with_contents() {
        let f = footprint(&arm_image()).unwrap();
        assert_eq!(
            f,
            Footprint {
                text: 1000,
                rodata: 200,
                flash: 1000 + 200 + 16 + 8,
            }
        );
    }

    #[test]
    fn firmware_elf_refuses_what_is_not_a_whole_elf32_file() {
        let err = |bytes: &[u8]| footprint(bytes).unwrap_err().to_string();
        assert!(err(b"hello, world").contains("not an ELF file"));
        assert!(err(b"").contains("not an ELF file"));
        let image = arm_image();
        assert!(err(&image[..40]).contains("truncated ELF header"));
        // Cut inside the section header table.
        assert!(err(&image[..image.len() - 10]).contains("truncated ELF"));
        let mut elf64 = image.clone();
        elf64[4] = 2;
        assert!(err(&elf64).contains("not a 32-bit ELF"));
        let mut big = image;
        big[5] = 2;
        assert!(err(&big).contains("big-endian"));
    }
}
