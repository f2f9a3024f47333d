/*
 * The frozen build's executables: bin\agent.exe, bin\agent-service.exe and bin\agent-tray.exe.
 *
 * Each one loads the Python runtime shipped beside it (python3XX.dll, its standard library zip and
 * Lib\site-packages, listed by the ._pth file beside the DLL) into its own process and runs one
 * module with Py_Main, the way PyInstaller's bootloader runs a frozen script. Hosting the
 * interpreter in-process matters for agent-service.exe: the service control manager talks to the
 * process it started, so the service must not be a child of a launcher.
 *
 * Compile-time settings:
 *   LANET_DLL      the runtime DLL beside the executable, e.g. L"python311.dll"
 *   LANET_ARGS     what follows -I, e.g. L"-m", L"lanet.agent.cli", L"tray"
 *   LANET_WINDOWED build the GUI-subsystem entry point (no console window: the tray)
 *
 * The interpreter runs isolated (-I): PYTHON* environment variables and the user's site-packages
 * are ignored, so nobody can redirect a service running as LocalSystem to their own code.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <shellapi.h>
#include <stdlib.h>
#include <wchar.h>

typedef int(__cdecl *py_main_fn)(int, wchar_t **);

static void fail(const wchar_t *what, const wchar_t *detail) {
    wchar_t text[1024];
    _snwprintf(text, 1023, L"LANET Agent: %ls %ls (error %lu)\n", what, detail, GetLastError());
    text[1023] = 0;
#ifdef LANET_WINDOWED
    MessageBoxW(NULL, text, L"LANET Agent", MB_ICONERROR | MB_OK);
#else
    DWORD written;
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    if (err != NULL && err != INVALID_HANDLE_VALUE)
        WriteConsoleW(err, text, (DWORD)wcslen(text), &written, NULL);
#endif
}

static int run(int argc, wchar_t **argv) {
    wchar_t dll[MAX_PATH + 32];
    DWORD length = GetModuleFileNameW(NULL, dll, MAX_PATH);
    if (length == 0 || length >= MAX_PATH) {
        fail(L"cannot find its own path", L"");
        return 120;
    }
    wchar_t *slash = wcsrchr(dll, L'\\');
    if (slash == NULL) {
        fail(L"unexpected path", dll);
        return 120;
    }
    wcscpy(slash + 1, LANET_DLL);
    /* The runtime's own dependencies (vcruntime140.dll) sit beside it. */
    HMODULE runtime = LoadLibraryExW(dll, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (runtime == NULL) {
        fail(L"cannot load the Python runtime", dll);
        return 121;
    }
    py_main_fn py_main = (py_main_fn)(void (*)(void))GetProcAddress(runtime, "Py_Main");
    if (py_main == NULL) {
        fail(L"the runtime has no Py_Main:", dll);
        return 121;
    }
    const wchar_t *fixed[] = {L"-I", LANET_ARGS};
    const int n_fixed = (int)(sizeof(fixed) / sizeof(fixed[0]));
    wchar_t **args = calloc((size_t)(argc + n_fixed + 1), sizeof(wchar_t *));
    if (args == NULL)
        return 122;
    args[0] = argv[0];
    for (int i = 0; i < n_fixed; i++)
        args[1 + i] = (wchar_t *)fixed[i];
    for (int i = 1; i < argc; i++)
        args[n_fixed + i] = argv[i];
    return py_main(argc + n_fixed, args);
}

#ifdef LANET_WINDOWED
int WINAPI wWinMain(HINSTANCE instance, HINSTANCE previous, PWSTR command_line, int show) {
    (void)instance;
    (void)previous;
    (void)command_line;
    (void)show;
    int argc = 0;
    wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    if (argv == NULL)
        return 122;
    return run(argc, argv);
}
#else
int wmain(int argc, wchar_t **argv) { return run(argc, argv); }
#endif
