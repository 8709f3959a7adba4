#!/usr/bin/python3
"""A VirtualBMC-style BMC: pyghmi's Bmc, one process per endpoint.

This is the design powerjockey is compared against (VirtualBMC runs one
pyghmi Bmc per node). Usage: bmc.py PORT
"""
import sys

import pyghmi.ipmi.bmc as bmc


class FakeBmc(bmc.Bmc):
    def __init__(self, authdata, port):
        super().__init__(authdata, port=port, address="127.0.0.1")
        self.powerstate = "off"

    def get_power_state(self):
        return self.powerstate

    def power_on(self):
        self.powerstate = "on"

    def power_off(self):
        self.powerstate = "off"


if __name__ == "__main__":
    FakeBmc({"admin": "password"}, int(sys.argv[1])).listen()
