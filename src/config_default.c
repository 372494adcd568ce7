/*
 * The embedded default configuration: what `outpost` runs with when no -c
 * is given and /etc/outpost/outpost.toml is absent. Simulated devices, data
 * in ./outpost-data, health on loopback, no uploads. The agent id defaults
 * to the host name.
 */
#include "config.h"

const char config_default_text[] =
    "# outpost embedded default: simulated sensors, nothing uploaded.\n"
    "[agent]\n"
    "data_dir = \"./outpost-data\"\n"
    "\n"
    "[logging]\n"
    "level = \"info\"\n"
    "format = \"json\"\n"
    "\n"
    "[health]\n"
    "listen = \"127.0.0.1:8787\"\n"
    "\n"
    "[cloud]\n"
    "enabled = false\n"
    "\n"
    "[[device]]\n"
    "name = \"hold\"\n"
    "type = \"sim\"\n"
    "sensor = \"temp.hold\"\n"
    "unit = \"celsius\"\n"
    "interval = 1.0\n"
    "waveform = \"sine\"\n"
    "min = 2.0\n"
    "max = 6.0\n"
    "period = 600\n"
    "\n"
    "[[device]]\n"
    "name = \"engine\"\n"
    "type = \"sim\"\n"
    "sensor = \"temp.engine\"\n"
    "unit = \"celsius\"\n"
    "interval = 2.0\n"
    "waveform = \"random_walk\"\n"
    "min = 60\n"
    "max = 95\n"
    "\n"
    "[[device]]\n"
    "name = \"system\"\n"
    "type = \"system\"\n"
    "interval = 10\n";
