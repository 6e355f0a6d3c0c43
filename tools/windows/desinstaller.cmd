@echo off
rem Désinstalle forfait-agent (la tâche planifiée et le programme). Les données du cabinet
rem (score, configuration) restent dans leur dossier : « forfait-agent status » l'indique.
rem Page de codes OEM 850 comme installer.cmd : les accents ne servent qu'aux messages.
setlocal EnableExtensions
title Désinstallation de forfait-agent
set "DEST=%LOCALAPPDATA%\Programs\forfait-agent"
set "FA=%DEST%\venv\Scripts\forfait-agent.exe"
if not exist "%DEST%" goto absent
rem Après une désinstallation interrompue, le programme peut manquer : schtasks retire la tâche.
if not exist "%FA%" schtasks /Delete /TN forfait-agent /F >nul 2>&1
if exist "%FA%" "%FA%" status
if exist "%FA%" "%FA%" service uninstall
rem L'agent arrêté, Windows libère ses fichiers en quelques secondes (ping : une pause sans clavier).
ping -n 4 127.0.0.1 >nul
rmdir /s /q "%DEST%"
if exist "%DEST%" goto reste
powershell -NoProfile -ExecutionPolicy Bypass -Command "Remove-Item -ErrorAction SilentlyContinue ([Environment]::GetFolderPath('Desktop')+'\Rapport forfait-agent.lnk')" <nul >nul 2>&1
echo.
echo forfait-agent est désinstallé. Le dossier des données indiqué ci-dessus est conservé :
echo supprimez-le vous-même si vous n'en avez plus besoin.
echo.
pause
exit /b 0

:reste
echo.
echo Une partie de "%DEST%" n'a pas pu être supprimée : un programme l'utilise encore.
echo Fermez la session Windows, rouvrez-la, puis relancez desinstaller.cmd.
echo.
pause
exit /b 1

:absent
echo forfait-agent n'est pas installé pour cet utilisateur ("%DEST%" introuvable).
pause
exit /b 1
