# Embeds a file's bytes in the program, as a function returning them:
#
#   include(${PROJECT_SOURCE_DIR}/cmake/embed.cmake)
#   cotflow_embed(cotflow_ops dashboard.html dashboard_page)
#
# adds to the target a source, generated in the build tree, that defines
# `std::string_view cotflow::dashboard_page()` (declare it where it is used).
# The source is generated again whenever the file changes, so the file is
# edited as what it is (HTML with its own syntax highlighting and linters)
# and the binary still needs nothing next to it at run time. Plain CMake:
# no xxd, which not every build machine has.
#
# The same file is the generator, run as a script:
#   cmake -DINPUT=file -DOUTPUT=file.cpp -DNAME=function -P embed.cmake

if(CMAKE_SCRIPT_MODE_FILE)
  file(READ "${INPUT}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # 16 bytes a line: CMake's regular expressions have no {n}, so the
  # pattern is spelt out.
  string(REPEAT "[0-9a-f]" 32 line)
  string(REGEX REPLACE "(${line})" "\\1\n" hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  file(WRITE "${OUTPUT}"
    "// Generated from ${INPUT} by cmake/embed.cmake: edit that file.\n"
    "#include <string_view>\n"
    "\n"
    "namespace cotflow {\n"
    "\n"
    "namespace {\n"
    "\n"
    "// unsigned: a byte above 0x7f would narrow in a char initializer. One\n"
    "// NUL more, so that an empty file still makes an array.\n"
    "const unsigned char bytes[${size} + 1] = {\n"
    "${bytes}0x00};\n"
    "\n"
    "} // namespace\n"
    "\n"
    "std::string_view ${NAME}();\n"
    "\n"
    "std::string_view ${NAME}() {\n"
    "  return {reinterpret_cast<const char*>(bytes), ${size}};\n"
    "}\n"
    "\n"
    "} // namespace cotflow\n")
  return()
endif()

set(cotflow_embed_script "${CMAKE_CURRENT_LIST_FILE}")

function(cotflow_embed target file name)
  get_filename_component(input "${file}" ABSOLUTE)
  set(output "${CMAKE_CURRENT_BINARY_DIR}/${name}.cpp")
  add_custom_command(OUTPUT "${output}"
    COMMAND "${CMAKE_COMMAND}" "-DINPUT=${input}" "-DOUTPUT=${output}"
      "-DNAME=${name}" -P "${cotflow_embed_script}"
    DEPENDS "${input}" "${cotflow_embed_script}"
    COMMENT "Embedding ${file} as ${name}()"
    VERBATIM)
  target_sources(${target} PRIVATE "${output}")
endfunction()
