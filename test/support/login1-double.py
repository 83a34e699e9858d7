#!/usr/bin/env python3
# A test double of systemd-logind's org.freedesktop.login1 on a private bus:
# the Manager's Inhibit (returns a real pipe descriptor and notices when every
# copy of it is closed), Suspend & co (recorded, with whether a lock was still
# held), the LidClosed / HandleLidSwitch* properties and PropertiesChanged.
# Driven by lines on stdin ("lid closed", "lid open", "refuse-inhibit on|off");
# reports each event as one JSON line on stdout, with a wall-clock time in ms.
import json, os, sys, time
import dbus, dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

MANAGER = 'org.freedesktop.login1.Manager'
PROPS = 'org.freedesktop.DBus.Properties'


def emit(event, **kw):
    kw.update(event=event, t=int(time.time() * 1000))
    sys.stdout.write(json.dumps(kw) + '\n')
    sys.stdout.flush()


class Manager(dbus.service.Object):
    def __init__(self, bus, refuse):
        super().__init__(bus, '/org/freedesktop/login1')
        self.lid_closed = False
        self.refuse = refuse
        self.locks = {}  # read end of the pipe -> what

    def props(self):
        return {'LidClosed': dbus.Boolean(self.lid_closed), 'HandleLidSwitch': 'suspend',
                'HandleLidSwitchExternalPower': 'suspend', 'HandleLidSwitchDocked': 'ignore'}

    @dbus.service.method(MANAGER, in_signature='ssss', out_signature='h')
    def Inhibit(self, what, who, why, mode):
        if self.refuse:
            emit('inhibit-refused', what=str(what))
            raise dbus.exceptions.DBusException('Access denied by the test double', name='org.freedesktop.DBus.Error.AccessDenied')
        r, w = os.pipe()
        self.locks[r] = str(what)
        GLib.io_add_watch(r, GLib.IO_HUP | GLib.IO_ERR, self.on_lock_closed)
        fd = dbus.types.UnixFd(w)  # takes its own copy
        os.close(w)
        emit('inhibit', what=str(what), who=str(who), mode=str(mode))
        return fd

    def on_lock_closed(self, r, cond):
        what = self.locks.pop(r, '?')
        os.close(r)
        emit('lock-released', what=what)
        return False

    def sleep(self, method):
        emit('sleep', method=method, lidClosed=self.lid_closed, locksHeld=len(self.locks))

    @dbus.service.method(MANAGER, in_signature='b')
    def Suspend(self, interactive): self.sleep('Suspend')

    @dbus.service.method(MANAGER, in_signature='b')
    def Hibernate(self, interactive): self.sleep('Hibernate')

    @dbus.service.method(PROPS, in_signature='ss', out_signature='v')
    def Get(self, iface, prop):
        p = self.props()
        if iface != MANAGER or prop not in p:
            raise dbus.exceptions.DBusException('no such property', name='org.freedesktop.DBus.Error.UnknownProperty')
        return p[prop]

    @dbus.service.method(PROPS, in_signature='s', out_signature='a{sv}')
    def GetAll(self, iface):
        return self.props() if iface == MANAGER else {}

    @dbus.service.signal(PROPS, signature='sa{sv}as')
    def PropertiesChanged(self, iface, changed, invalidated):
        pass

    def set_lid(self, closed):
        self.lid_closed = closed
        emit('lid', closed=closed)
        self.PropertiesChanged(MANAGER, {'LidClosed': dbus.Boolean(closed)}, [])


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(sys.argv[1])
    refuse = '--refuse-inhibit' in sys.argv[2:]
    name = dbus.service.BusName('org.freedesktop.login1', bus)
    mgr = Manager(bus, refuse)
    loop = GLib.MainLoop()

    pending = [b'']

    def run(cmd):
        if cmd == 'lid closed': mgr.set_lid(True)
        elif cmd == 'lid open': mgr.set_lid(False)
        elif cmd == 'refuse-inhibit on': mgr.refuse = True
        elif cmd == 'refuse-inhibit off': mgr.refuse = False
        else: emit('bad-command', line=cmd[:100])

    def on_stdin(fd, cond):
        # Raw reads: a buffered readline would keep a second line back until more input came.
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            loop.quit()
            return False
        pending[0] += data
        *lines, pending[0] = pending[0].split(b'\n')
        for line in lines:
            run(line.decode('utf-8', 'replace').strip())
        return True

    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP, on_stdin)
    emit('ready', name=str(name.get_name()))
    loop.run()


main()
