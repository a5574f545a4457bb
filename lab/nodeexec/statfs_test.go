package nodeexec

import "testing"

func TestParseStatfsUsesTheFundamentalBlockSize(t *testing.T) {
	s, err := ParseStatfs("4096 100 60 50 1000 900 ext2/ext3\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.CapacityBytes != 409600 || s.FreeBytes != 245760 || s.AvailableBytes != 204800 || s.Inodes != 1000 || s.InodesFree != 900 || s.Type != "ext2/ext3" {
		t.Fatalf("ParseStatfs = %+v", s)
	}
	if _, err := ParseStatfs("4096 x 1 1 1 1 tmpfs"); err == nil {
		t.Fatal("a non-number parsed")
	}
	if _, err := ParseStatfs("4096 1"); err == nil {
		t.Fatal("a short line parsed")
	}
}
