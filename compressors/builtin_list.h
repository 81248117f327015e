// One line per compressor family: GW_COMPRESSOR(name) calls
// gw::register_<name>(Registry&), defined in compressors/<name>/.
// Adding a compressor = its own folder + one line here.
GW_COMPRESSOR(none)
GW_COMPRESSOR(fp16)
GW_COMPRESSOR(bf16)
GW_COMPRESSOR(maxmin)
GW_COMPRESSOR(qsgd)
GW_COMPRESSOR(nuq)
GW_COMPRESSOR(topk)
GW_COMPRESSOR(randomk)
GW_COMPRESSOR(powersgd)
GW_COMPRESSOR(eden)
GW_COMPRESSOR(lattice)
GW_COMPRESSOR(lgreco)
