#!/bin/sh
# A demo trading bot that loses money: it publishes its numbers as
# FLEET_METRIC lines, and its kill condition stops it for good.
cash=40
loss=0
while true; do
  echo "FLEET_METRIC cash=\$$cash daily_loss=\$$loss"
  cash=$((cash - 3))
  loss=$((loss + 3))
  sleep 1.5
done
