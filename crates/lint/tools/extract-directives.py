#!/usr/bin/env python3
"""Writes nginx's directive table (crates/lint/src/nginx/directives.tsv) from the nginx that is
installed: starts it with every dynamic module loaded, reads each module's command table from
the running process (name, context and argument flags, the slot function that parses the value,
enum and bitmask values), and prints one line per directive.

Run as root after installing nginx and the libnginx-mod-* packages:
    python3 crates/lint/tools/extract-directives.py > crates/lint/src/nginx/directives.tsv
"""
import os, struct, subprocess, sys, tempfile, time, glob

NGINX = "/usr/sbin/nginx"
MODDIR = "/usr/lib/nginx/modules"
TYPES = {0x45524F43: "core", 0x544E5645: "event", 0x50545448: "http",
         0x4C49414D: "mail", 0x4D525453: "stream", 0x464E4F43: "conf"}

def symbols(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms

def main():
    # Load order as Debian's modules-enabled has it: NDK first, stream's extras after stream.
    def order(so):
        n = os.path.basename(so)
        return (0 if n.startswith("ndk_") else 2 if n == "ngx_stream_module.so"
                else 3 if n.startswith("ngx_stream_") else 1, n)
    sos = sorted(glob.glob(MODDIR + "/*.so"), key=order)
    tmp = tempfile.mkdtemp()
    os.makedirs(tmp + "/logs")
    with open(tmp + "/nginx.conf", "w") as f:
        for so in sos:
            f.write(f"load_module {so};\n")
        f.write("daemon off; master_process off; pid %s/nginx.pid; error_log %s/error.log;\n"
                "events {}\n" % (tmp, tmp))
    proc = subprocess.Popen([NGINX, "-p", tmp, "-c", tmp + "/nginx.conf"], stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        if proc.poll() is not None:
            sys.exit("nginx exited: " + proc.stderr.read().decode())
        dump(proc.pid, sos)
    finally:
        proc.kill()
        proc.wait()

def dump(pid, sos):
    bases = {}
    for line in open(f"/proc/{pid}/maps"):
        parts = line.split()
        if len(parts) >= 6 and parts[2] == "00000000":
            bases.setdefault(parts[5], int(parts[0].split("-")[0], 16))
    mem = open(f"/proc/{pid}/mem", "rb")
    def read(addr, n):
        mem.seek(addr); return mem.read(n)
    def word(addr):
        try:
            return struct.unpack("<Q", read(addr, 8))[0]
        except OSError:  # `post` is not always a pointer to data
            return 0
    def cstr(addr):
        b = read(addr, 256); return b.split(b"\0")[0].decode()
    def nstr(addr, n):
        return read(addr, n).decode()
    # Slot functions live in the main binary; name them by address.
    main_syms = symbols(NGINX)
    base = bases[os.path.realpath(NGINX)]
    slots = {base + v: k for k, v in main_syms.items()
             if k.startswith("ngx_conf_set_") or k in ("ngx_conf_check_num_bounds", "ngx_conf_deprecated")}
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    print(f"# nginx's directive table, read from {version} and Debian's libnginx-mod-* packages")
    print("# by crates/lint/tools/extract-directives.py; flags are nginx's ngx_command_t type bits.")
    print("# name\tmodule\tfile\tpackage\tmodule_type\tflags\tslot\tvalues")
    for obj in [NGINX] + sos:
        syms = symbols(obj)
        package = "-"
        if obj != NGINX:
            package = subprocess.run(["dpkg", "-S", obj], capture_output=True,
                                     text=True).stdout.split(":")[0] or "-"
        b = bases[os.path.realpath(obj)]
        mods, names = b + syms["ngx_modules"], b + syms["ngx_module_names"]
        i = 0
        while True:
            m = word(mods + 8 * i)
            if m == 0: break
            modname = cstr(word(names + 8 * i))
            commands, mtype = word(m + 64), word(m + 72) & 0xffffffff
            i += 1
            if mtype not in TYPES:
                continue  # a language of its own (RTMP): its block is not checked
            c = commands
            while commands:
                nlen, ndata, ctype, cset, _conf, _off, post = struct.unpack("<7Q", read(c, 56))
                if nlen == 0: break
                name = nstr(ndata, nlen)
                slot = slots.get(cset, "custom").replace("ngx_conf_set_", "").replace("_slot", "")
                values = ""
                if slot in ("enum", "bitmask") and post:
                    vals, p = [], post
                    while True:
                        vlen, vdata, _v = struct.unpack("<3Q", read(p, 24))
                        if vlen == 0: break
                        vals.append(nstr(vdata, vlen)); p += 24
                    values = ",".join(vals)
                elif post and slots.get(word(post)) == "ngx_conf_check_num_bounds":
                    low, high = struct.unpack("<qq", read(post + 8, 16))
                    values = f"bounds:{low}:{high}"
                elif post and slots.get(word(post)) == "ngx_conf_deprecated":
                    values = "deprecated:" + cstr(word(post + 16))
                fname = "-" if obj == NGINX else os.path.basename(obj)
                print(f"{name}\t{modname}\t{fname}\t{package}\t{TYPES.get(mtype, hex(mtype))}\t{ctype:#010x}\t{slot}\t{values or '-'}")
                c += 56

main()
