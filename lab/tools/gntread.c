/* gntread: dom0-side helper of the xen-core lab scenario. Maps grant GREF of domain DOMID
 * through /dev/xen/gntdev, checks the pattern the vsnoop self-test wrote (a tag string, then
 * byte i = (i * 7 + 3) & 0xff), prints the verdict and unmaps.
 * usage: gntread DOMID GREF TAG            exit 0 on a match */
#include <fcntl.h>
#include <linux/ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct grant_ref { uint32_t domid, ref; };
struct map_grant_ref { uint32_t count, pad; uint64_t index; struct grant_ref refs[1]; };
struct unmap_grant_ref { uint64_t index; uint32_t count, pad; };
#define GNTDEV_MAP _IOC(_IOC_NONE, 'G', 0, sizeof(struct map_grant_ref))
#define GNTDEV_UNMAP _IOC(_IOC_NONE, 'G', 1, sizeof(struct unmap_grant_ref))

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: gntread DOMID GREF TAG\n"); return 2; }
  int fd = open("/dev/xen/gntdev", O_RDWR);
  if (fd < 0) { perror("GNTREAD open /dev/xen/gntdev"); return 1; }
  struct map_grant_ref m = { .count = 1 };
  m.refs[0].domid = (uint32_t)strtoul(argv[1], 0, 0);
  m.refs[0].ref = (uint32_t)strtoul(argv[2], 0, 0);
  if (ioctl(fd, GNTDEV_MAP, &m)) { perror("GNTREAD map ioctl"); return 1; }
  unsigned char *p = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, (off_t)m.index);
  if (p == MAP_FAILED) { perror("GNTREAD mmap"); return 1; }
  size_t tag = strlen(argv[3]);
  int ok = memcmp(p, argv[3], tag) == 0;
  for (size_t i = tag; ok && i < 4096; i++) ok = p[i] == (unsigned char)((i * 7 + 3) & 0xff);
  printf("GNTREAD %s tag='%.*s'\n", ok ? "OK" : "MISMATCH", (int)tag, (const char *)p);
  munmap(p, 4096);
  struct unmap_grant_ref u = { .index = m.index, .count = 1 };
  if (ioctl(fd, GNTDEV_UNMAP, &u)) { perror("GNTREAD unmap ioctl"); return 1; }
  close(fd);
  return ok ? 0 : 1;
}
