@echo off
rem Désinstalle forfait-agent (la tâche planifiée et le programme). Les données du cabinet
rem (score, configuration) restent dans leur dossier : « forfait-agent status » l'indique.
setlocal EnableExtensions
title Désinstallation de forfait-agent
set "DEST=%LOCALAPPDATA%\Programs\forfait-agent"
set "FA=%DEST%\venv\Scripts\forfait-agent.exe"
if not exist "%FA%" goto absent
"%FA%" status
"%FA%" service uninstall
rmdir /s /q "%DEST%"
powershell -NoProfile -ExecutionPolicy Bypass -Command "Remove-Item -ErrorAction SilentlyContinue ([Environment]::GetFolderPath('Desktop')+'\Rapport forfait-agent.lnk')" >nul 2>&1
echo.
echo forfait-agent est désinstallé. Le dossier des données indiqué ci-dessus est conservé :
echo supprimez-le vous-même si vous n'en avez plus besoin.
echo.
pause
exit /b 0

:absent
echo forfait-agent n'est pas installé pour cet utilisateur (%DEST% introuvable).
pause
exit /b 1
