# ct_embed(<var> <output.c> <files...>)
# Generates one C file holding each listed file (relative to the source
# directory) as a NUL-terminated byte array, plus a lookup table searched by
# ct_embedded_find() (host/util.h). Regenerated when any input changes.
function(ct_embed var out)
  set(inputs)
  foreach(f ${ARGN})
    list(APPEND inputs ${CMAKE_SOURCE_DIR}/${f})
  endforeach()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DROOT=${CMAKE_SOURCE_DIR}
            "-DFILES=${ARGN}" -P ${CMAKE_SOURCE_DIR}/cmake/EmbedGen.cmake
    DEPENDS ${inputs} ${CMAKE_SOURCE_DIR}/cmake/EmbedGen.cmake
    COMMENT "Embedding ${ARGN}"
    VERBATIM)
  set(${var} ${out} PARENT_SCOPE)
endfunction()
