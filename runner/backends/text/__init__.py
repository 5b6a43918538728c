"""Text engines: programs and devices that print their reply (llama2.c, llama-completion, an
ESP32 over serial). ``output`` reads what they print, ``command`` and ``serial_line`` drive them,
``flags`` holds their command-line flags."""
