// Package stress holds what nodelab's substitute for Chaos Mesh's memStress
// (cmd/memstress) shares with the scenarios that judge it: how a --size is
// read, which memory limit a percentage refers to, and how a ramp spreads
// page faults over time.
//
// It lives in lab rather than next to the binaries so a scenario can predict
// exactly how many bytes a StressChaos with size "900MB" or "25%" asks for,
// using the very code the stressor runs. The classic "the stressor did not
// reach the size" report is a units mix-up (900MB is 900,000,000 bytes,
// about 858 MiB), so FormatBytes always shows both.
//
// Nothing here prints or starts processes; the package only reads files
// (through fs.FS, so tests can fake /proc and /sys).
package stress
