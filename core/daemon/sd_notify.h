// systemd's notify protocol (Type=notify): a datagram to $NOTIFY_SOCKET.
#ifndef FLEET_CORE_DAEMON_SD_NOTIFY_H_
#define FLEET_CORE_DAEMON_SD_NOTIFY_H_

#include <string>

namespace fleet::daemon {

// Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1") when NOTIFY_SOCKET is
// set; returns false if it is unset or the send failed.
bool SdNotify(const std::string& state);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_SD_NOTIFY_H_
