#!/usr/bin/python3
"""A FUSE filesystem that loses power the way a disk with a volatile write cache does.

Usage: powerloss_fs.py BACKING MOUNTPOINT   (root, /dev/fuse, Debian's python3-fusepy)

Why: a kill -9 test cannot catch a missing fsync, because the kernel's page cache survives the
process. Here nothing reaches "the platter" until it is fsynced, and a power cut throws away the
rest, so a durability test against this mount fails when an fsync is missing.

The model (POSIX's guarantees, nothing more):
  * write() and truncate()/ftruncate() change only the live view (dirty 4 KiB pages in memory and a
    pending size); fsync()/fdatasync() of that file makes its current contents and size durable.
  * creating, renaming, unlinking a file or directory changes only the live namespace; fsync() of the
    parent directory makes that directory's current entries durable. So a file that was fsynced but
    whose directory was not is lost, and so is a rename or unlink whose directory was not fsynced.
  * fsync of one file or directory makes nothing else durable.

The durable state is always on disk under BACKING, so a power cut has nothing to write:
  BACKING/tree    the directory tree as it would be found after a power cut now (nsqd can be
                  started on it directly; a later mount starts from it, everything durable);
  BACKING/inodes  one file per live file, holding its durable contents. Each durable name in tree/
                  is a hard link to it, so an fsync of the file updates every durable name at once,
                  and an fsync of a directory only adds or removes links. Files of the live view that
                  have no durable name yet exist only here; a mount empties it first (the orphan
                  inodes an fsck would reclaim).

Control, one line on stdin each (answers on stdout):
  cut    power cut: what is not durable is dropped, and from now on every operation fails with EIO
         (the machine is off: nothing the still-running process does can reach the disk). Answers
         "cut dirty_files=N dirty_pages=N dirty_dirs=N".
  exit   (or end of input) unmount and exit.
The mount answers "ready" once the kernel has connected. Directory renames are refused (EXDEV):
nsqd never renames a directory, and refusing keeps the model free of cycles. Modes, times and
ownership are not modelled (changed at once; nsqd relies on none of them). Requests are served one
at a time (nothreads) under one lock shared with the control thread, so a cut falls between two
operations, never inside one.

It lives with the tests that use it (nsqd/NsqSharp.Nsqd.Tests/PowerLoss, copied to their output
directory): nothing else needs it.
"""

import errno
import logging
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

try:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's python3-fusepy
except ImportError:  # pragma: no cover - fusepy from PyPI
    from fuse import FUSE, FuseOSError, Operations

PAGE = 4096


class Node:
    """One inode. Files: live size, dirty pages, and the durable copy in BACKING/inodes/<ino>.
    Directories: live entries and durable entries (name -> ino)."""

    def __init__(self, ino, is_dir, mode):
        self.ino = ino
        self.is_dir = is_dir
        self.mode = mode & 0o7777
        self.links = 0          # live directory entries naming this node
        self.opens = 0          # open handles
        self.durable_refs = 0   # durable directory entries naming this node (materialized or not)
        self.durable_paths = set()  # where it exists in BACKING/tree
        self.mtime = time.time()
        if is_dir:
            self.live = {}
            self.durable = {}
        else:
            self.fd = None      # BACKING/inodes/<ino>, read-write
            self.size = 0       # live size
            self.synced_size = 0  # durable size (of the inodes/ file)
            self.floor = 0      # durable bytes at or past this were cut off by a pending truncate
            self.dirty = {}     # page number -> bytearray(PAGE): live contents not yet fsynced


class PowerLossFs(Operations):
    use_ns = True
    flag_nopath = True      # operations on open handles get the handle only: an unlinked open file
    flag_nullpath_ok = True  # keeps working (inode semantics, as with hard_remove)

    def __init__(self, backing):
        self._mutex = threading.Lock()
        self.dead = False
        self.tree = os.path.join(backing, "tree")
        self.inodes = os.path.join(backing, "inodes")
        os.makedirs(self.tree, exist_ok=True)
        shutil.rmtree(self.inodes, ignore_errors=True)
        os.makedirs(self.inodes)
        self.nodes = {}
        self.next_ino = 1
        self.root = self._load_dir(self.tree)
        self.root.links = 1

    # ------------------------------------------------------------------ loading (everything durable)

    def _new_node(self, is_dir, mode):
        node = Node(self.next_ino, is_dir, mode)
        self.next_ino += 1
        self.nodes[node.ino] = node
        return node

    def _staging(self, node):
        return os.path.join(self.inodes, str(node.ino))

    def _load_dir(self, path, seen=None):
        seen = {} if seen is None else seen
        node = self._new_node(True, os.stat(path).st_mode)
        node.durable_paths.add(path)
        for name in sorted(os.listdir(path)):
            child_path = os.path.join(path, name)
            st = os.lstat(child_path)
            if stat.S_ISDIR(st.st_mode):
                child = self._load_dir(child_path, seen)
            elif stat.S_ISREG(st.st_mode):
                child = seen.get((st.st_dev, st.st_ino))
                if child is None:
                    child = self._new_node(False, st.st_mode)
                    os.link(child_path, self._staging(child))
                    child.fd = os.open(self._staging(child), os.O_RDWR)
                    child.size = child.synced_size = child.floor = st.st_size
                    seen[(st.st_dev, st.st_ino)] = child
                child.durable_paths.add(child_path)
            else:
                continue  # only files and directories are modelled
            node.live[name] = node.durable[name] = child.ino
            child.links += 1
            child.durable_refs += 1
        return node

    # ------------------------------------------------------------------ helpers

    def _check(self):
        if self.dead:
            raise FuseOSError(errno.EIO)

    def _resolve(self, path):
        node = self.root
        for part in path.split("/"):
            if not part:
                continue
            if not node.is_dir or part not in node.live:
                raise FuseOSError(errno.ENOENT)
            node = self.nodes[node.live[part]]
        return node

    def _parent(self, path):
        head, name = path.rstrip("/").rsplit("/", 1)
        parent = self._resolve(head)
        if not parent.is_dir:
            raise FuseOSError(errno.ENOTDIR)
        return parent, name

    def _node(self, path, fh):
        if fh:
            node = self.nodes.get(fh)
            if node is None:
                raise FuseOSError(errno.EBADF)
            return node
        return self._resolve(path)

    def _gc(self, node):
        """Forgets a node nothing can reach any more: no live name, no handle, no durable name."""
        if node is self.root or node.links or node.opens or node.durable_refs or node.ino not in self.nodes:
            return
        del self.nodes[node.ino]
        if node.is_dir:
            for ino in node.durable.values():
                child = self.nodes.get(ino)
                if child is not None:
                    child.durable_refs -= 1
                    self._gc(child)
        else:
            os.close(node.fd)
            os.unlink(self._staging(node))

    # ------------------------------------------------------------------ file contents

    def _clean(self, node, offset, length):
        """Durable bytes as the live view sees them (zeros past the durable size or a pending truncate)."""
        limit = min(node.synced_size, node.floor)
        data = os.pread(node.fd, max(0, min(length, limit - offset)), offset) if offset < limit else b""
        return data + bytes(length - len(data))

    def _read(self, node, offset, size):
        end = min(offset + size, node.size)
        out = bytearray()
        pos = offset
        while pos < end:
            page = pos // PAGE
            dirty = node.dirty.get(page)
            if dirty is not None:
                take = min(end, (page + 1) * PAGE) - pos
                out += dirty[pos - page * PAGE:pos - page * PAGE + take]
            else:  # a run of clean pages in one read
                run_end = (page + 1) * PAGE
                while run_end < end and (run_end // PAGE) not in node.dirty:
                    run_end += PAGE
                take = min(end, run_end) - pos
                out += self._clean(node, pos, take)
            pos += take
        return bytes(out)

    def _write(self, node, data, offset):
        pos, end, i = offset, offset + len(data), 0
        while pos < end:
            page = pos // PAGE
            start = page * PAGE
            take = min(end, start + PAGE) - pos
            dirty = node.dirty.get(page)
            if dirty is None:
                dirty = node.dirty[page] = bytearray(self._clean(node, start, PAGE))
            dirty[pos - start:pos - start + take] = data[i:i + take]
            pos += take
            i += take
        node.size = max(node.size, end)
        node.mtime = time.time()

    def _truncate(self, node, length):
        if length < node.size:
            for page in [p for p in node.dirty if p * PAGE >= length]:
                del node.dirty[page]
            tail = node.dirty.get(length // PAGE)
            if tail is not None:  # bytes past the end read as zeros if the file grows again
                cut = length % PAGE
                tail[cut:] = bytes(PAGE - cut)
            node.floor = min(node.floor, length)
        node.size = length
        node.mtime = time.time()

    def _sync_file(self, node):
        """fsync/fdatasync: the file's live contents and size become its durable ones."""
        if node.floor < node.synced_size:
            os.ftruncate(node.fd, node.floor)
        for page in sorted(node.dirty):
            n = min(PAGE, node.size - page * PAGE)
            if n > 0:
                os.pwrite(node.fd, bytes(node.dirty[page][:n]), page * PAGE)
        os.ftruncate(node.fd, node.size)
        node.dirty.clear()
        node.synced_size = node.floor = node.size

    # ------------------------------------------------------------------ namespace durability

    def _sync_dir(self, node):
        """fsync of a directory: its live entries become its durable ones (in every place it is durable)."""
        old, new = node.durable, dict(node.live)
        for name in sorted(set(old) | set(new)):
            if old.get(name) == new.get(name):
                continue
            if name in new:
                self.nodes[new[name]].durable_refs += 1
            for base in sorted(node.durable_paths):
                if name in old:
                    self._unmaterialize(self.nodes[old[name]], os.path.join(base, name))
                if name in new:
                    self._materialize(self.nodes[new[name]], os.path.join(base, name))
            if name in old:
                child = self.nodes[old[name]]
                child.durable_refs -= 1
                self._gc(child)
        node.durable = new

    def _materialize(self, node, path):
        node.durable_paths.add(path)
        if node.is_dir:
            os.mkdir(path)
            for name, ino in node.durable.items():
                self._materialize(self.nodes[ino], os.path.join(path, name))
        else:
            os.link(self._staging(node), path)

    def _unmaterialize(self, node, path):
        if node.is_dir:
            for name, ino in node.durable.items():
                self._unmaterialize(self.nodes[ino], os.path.join(path, name))
            os.rmdir(path)
        else:
            os.unlink(path)
        node.durable_paths.discard(path)

    def _link(self, parent, name, node):
        parent.live[name] = node.ino
        parent.mtime = time.time()
        node.links += 1

    def _unlink(self, parent, name):
        node = self.nodes[parent.live.pop(name)]
        parent.mtime = time.time()
        node.links -= 1
        self._gc(node)

    # ------------------------------------------------------------------ FUSE operations

    def __call__(self, op, *args):
        with self._mutex:
            self._check()
            return super().__call__(op, *args)

    def init(self, path):
        sys.stdout.write("ready\n")
        sys.stdout.flush()

    def getattr(self, path, fh=None):
        node = self._node(path, fh)
        if node.is_dir:
            mode = stat.S_IFDIR | node.mode
            nlink = 2 + sum(1 for ino in node.live.values() if self.nodes[ino].is_dir)
            size = 4096
        else:
            mode = stat.S_IFREG | node.mode
            nlink = node.links
            size = node.size
        ns = int(node.mtime * 1e9)
        return dict(st_mode=mode, st_nlink=nlink, st_size=size, st_uid=os.getuid(), st_gid=os.getgid(),
                    st_blocks=(size + 511) // 512, st_blksize=PAGE, st_atime=ns, st_mtime=ns, st_ctime=ns)

    def access(self, path, amode):
        self._resolve(path)
        return 0

    def statfs(self, path):
        return dict(f_bsize=PAGE, f_frsize=PAGE, f_blocks=1 << 24, f_bfree=1 << 23, f_bavail=1 << 23,
                    f_files=1 << 20, f_ffree=1 << 19, f_favail=1 << 19, f_namemax=255)

    def opendir(self, path):
        node = self._resolve(path)
        if not node.is_dir:
            raise FuseOSError(errno.ENOTDIR)
        node.opens += 1
        return node.ino

    def readdir(self, path, fh):
        return [".", ".."] + sorted(self._node(path, fh).live)

    def releasedir(self, path, fh):
        node = self.nodes[fh]
        node.opens -= 1
        self._gc(node)
        return 0

    def fsyncdir(self, path, datasync, fh):
        self._sync_dir(self._node(path, fh))
        return 0

    def mkdir(self, path, mode):
        parent, name = self._parent(path)
        if name in parent.live:
            raise FuseOSError(errno.EEXIST)
        self._link(parent, name, self._new_node(True, mode))
        return 0

    def rmdir(self, path):
        parent, name = self._parent(path)
        node = self._resolve(path)
        if not node.is_dir:
            raise FuseOSError(errno.ENOTDIR)
        if node.live:
            raise FuseOSError(errno.ENOTEMPTY)
        self._unlink(parent, name)
        return 0

    def create(self, path, mode, fi=None):
        parent, name = self._parent(path)
        if name in parent.live:
            raise FuseOSError(errno.EEXIST)
        node = self._new_node(False, mode)
        node.fd = os.open(self._staging(node), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode & 0o7777)
        self._link(parent, name, node)
        node.opens += 1
        return node.ino

    def open(self, path, flags):
        node = self._resolve(path)
        if node.is_dir:
            raise FuseOSError(errno.EISDIR)
        node.opens += 1
        return node.ino

    def release(self, path, fh):
        node = self.nodes[fh]
        node.opens -= 1
        self._gc(node)
        return 0

    def flush(self, path, fh):
        return 0

    def read(self, path, size, offset, fh):
        return self._read(self._node(path, fh), offset, size)

    def write(self, path, data, offset, fh):
        self._write(self._node(path, fh), data, offset)
        return len(data)

    def truncate(self, path, length, fh=None):
        node = self._node(path, fh)
        if node.is_dir:
            raise FuseOSError(errno.EISDIR)
        self._truncate(node, length)
        return 0

    def fsync(self, path, datasync, fh):
        self._sync_file(self._node(path, fh))
        return 0

    def unlink(self, path):
        parent, name = self._parent(path)
        if self._resolve(path).is_dir:
            raise FuseOSError(errno.EISDIR)
        self._unlink(parent, name)
        return 0

    def rename(self, old, new):
        old_parent, old_name = self._parent(old)
        new_parent, new_name = self._parent(new)
        node = self._resolve(old)
        if node.is_dir:
            raise FuseOSError(errno.EXDEV)  # not modelled (see the module doc)
        target = new_parent.live.get(new_name)
        if target == node.ino:
            return 0
        if target is not None:
            if self.nodes[target].is_dir:
                raise FuseOSError(errno.EISDIR)
            self._unlink(new_parent, new_name)
        self._link(new_parent, new_name, node)
        self._unlink(old_parent, old_name)
        return 0

    def link(self, target, source):
        raise FuseOSError(errno.EPERM)  # .NET's File.Move falls back to rename

    def symlink(self, target, source):
        raise FuseOSError(errno.EPERM)

    def mknod(self, path, mode, dev):
        raise FuseOSError(errno.EPERM)

    def chmod(self, path, mode):
        node = self._resolve(path)
        node.mode = mode & 0o7777
        if not node.is_dir:
            os.fchmod(node.fd, node.mode)  # not modelled as pending: nsqd never relies on a mode
        return 0

    def chown(self, path, uid, gid):
        return 0

    def utimens(self, path, times=None):
        node = self._resolve(path)
        node.mtime = times[1] / 1e9 if times else time.time()
        return 0

    def getxattr(self, path, name, position=0):
        raise FuseOSError(errno.ENODATA)

    def listxattr(self, path):
        return []

    # ------------------------------------------------------------------ control

    def cut(self):
        with self._mutex:
            dirty = [n for n in self.nodes.values() if not n.is_dir and (n.dirty or n.size != n.synced_size or n.floor < n.synced_size)]
            dirs = [n for n in self.nodes.values() if n.is_dir and n.live != n.durable]
            pages = sum(len(n.dirty) for n in dirty)
            self.dead = True
        return f"cut dirty_files={len(dirty)} dirty_pages={pages} dirty_dirs={len(dirs)}"


def control(fs, mountpoint):
    """Reads commands from stdin; at exit (or end of input) unmounts, which ends the FUSE loop."""
    for line in sys.stdin:
        command = line.strip()
        if command == "cut":
            sys.stdout.write(fs.cut() + "\n")
            sys.stdout.flush()
        elif command == "exit":
            break
        elif command:
            sys.stdout.write(f"error unknown command {command!r}\n")
            sys.stdout.flush()
    if subprocess.call(["umount", mountpoint]) != 0:
        subprocess.call(["umount", "-l", mountpoint])  # still busy: detach it anyway


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: powerloss_fs.py BACKING MOUNTPOINT")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    backing, mountpoint = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    fs = PowerLossFs(backing)
    threading.Thread(target=control, args=(fs, mountpoint), daemon=True).start()
    FUSE(fs, mountpoint, foreground=True, nothreads=True, hard_remove=True, big_writes=True,
         fsname="powerloss", subtype="powerloss")


if __name__ == "__main__":
    main()
